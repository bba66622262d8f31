/**
 * Classic BPF for seccomp: opcodes, return values, the `seccomp_data` layout, and a small
 * assembler with symbolic labels that lays the program out and repairs conditional jumps whose
 * target is beyond the 8-bit `jt`/`jf` range with `JA` trampolines (32-bit offsets).
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";

/** Opcodes used by the compiler (and understood by the test interpreter). */
export const BPF = {
  LD_W_ABS: 0x20,
  LD_IMM: 0x00,
  LDX_IMM: 0x01,
  LD_MEM: 0x60,
  LDX_MEM: 0x61,
  LD_W_LEN: 0x80,
  ST: 0x02,
  STX: 0x03,
  ALU_AND_K: 0x54,
  JA: 0x05,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06,
  RET_A: 0x16,
  TAX: 0x07,
  TXA: 0x87,
} as const;

/** Kernel limit on filter length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** Size of one `struct sock_filter`. */
export const SOCK_FILTER_SIZE = 8;

/** `SECCOMP_RET_*` action values (the high 16 bits; the low 16 are data). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** Mask of the action part of a return value. */
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
/** Mask of the data part of a return value. */
export const SECCOMP_RET_DATA = 0x0000ffff;

/** Offsets into `struct seccomp_data` (little-endian hosts: low word first). */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  IP: 8,
  ARGS: 16,
  SIZE: 64,
} as const;

/** Offset of the low (`hi = false`) or high 32-bit word of argument `index`. */
export function argOffset(index: number, hi: boolean): number {
  return SECCOMP_DATA.ARGS + index * 8 + (hi ? 4 : 0);
}

/** A symbolic jump target. */
export type Label = number & { readonly __label: unique symbol };

interface Insn {
  code: number;
  k: number;
  /** Targets of a conditional jump (or `jt` alone for JA). */
  jt?: Label;
  jf?: Label;
}

/**
 * Builds a program from instructions and labels. Jumps only go forward (classic BPF); a label is
 * bound to the next instruction emitted after {@link Assembler.bind}.
 */
export class Assembler {
  #insns: Insn[] = [];
  #labels: number[] = [];
  #aliases = new Map<Label, Label>();

  /** A new, unbound label. */
  label(): Label {
    this.#labels.push(-1);
    return (this.#labels.length - 1) as Label;
  }

  /** Binds `label` to the next instruction. */
  bind(label: Label): void {
    if (this.isBound(label)) throw new Error(`Label ${label} bound twice`);
    this.#labels[label] = this.#insns.length;
  }

  /** True when `label` is already bound (directly or as an alias). */
  isBound(label: Label): boolean {
    return this.#labels[label] !== -1 || this.#aliases.has(label);
  }

  /** Makes `label` stand for wherever `target` is (or will be) bound. */
  alias(label: Label, target: Label): void {
    if (this.isBound(label)) throw new Error(`Label ${label} bound twice`);
    this.#aliases.set(label, target);
  }

  #resolve(label: Label): number {
    let l = label;
    for (let hops = 0; this.#aliases.has(l); hops++) {
      if (hops > this.#labels.length) throw new Error(`Alias cycle at label ${label}`);
      l = this.#aliases.get(l)!;
    }
    return this.#labels[l];
  }

  /** Number of instructions emitted so far (before trampolines). */
  get length(): number {
    return this.#insns.length;
  }

  /** A non-jump instruction. */
  stmt(code: number, k: number): void {
    this.#insns.push({ code, k: k >>> 0 });
  }

  /** A conditional jump comparing A with `k`. */
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.#insns.push({ code, k: k >>> 0, jt, jf });
  }

  /** An unconditional jump. */
  ja(target: Label): void {
    this.#insns.push({ code: BPF.JA, k: 0, jt: target });
  }

  /**
   * Lays the program out and encodes it as `struct sock_filter[]` bytes. Conditional jumps that
   * cannot reach their target in 255 instructions get a `JA` trampoline right after them; since
   * inserting trampolines lengthens other jumps, this repeats until nothing changes.
   *
   * @throws InvalidArgumentError when the program exceeds the kernel's 4096 instructions
   */
  assemble(): Uint8Array<ArrayBuffer> {
    const insns = this.#insns;
    const n = insns.length;
    const resolved = this.#labels.map((_, i) => this.#resolve(i as Label));
    for (let i = 0; i < resolved.length; i++) {
      if (resolved[i] === -1) {
        // Unbound labels are only a bug if something jumps to them.
        if (insns.some((x) => x.jt === i || x.jf === i)) throw new Error(`Label ${i} unbound`);
      } else if (resolved[i] >= n) throw new Error(`Label ${i} bound past the end`);
    }
    // tramp[i] = [jt trampoline?, jf trampoline?] placed right after instruction i.
    const tramp: [boolean, boolean][] = insns.map(() => [false, false]);
    const pos = new Int32Array(n);
    const layout = (): number => {
      let p = 0;
      for (let i = 0; i < n; i++) {
        pos[i] = p;
        p += 1 + (tramp[i][0] ? 1 : 0) + (tramp[i][1] ? 1 : 0);
      }
      return p;
    };
    const target = (l: Label): number => pos[resolved[l]];
    let total = layout();
    for (let changed = true; changed;) {
      changed = false;
      for (let i = 0; i < n; i++) {
        const x = insns[i];
        if (x.code === BPF.JA || x.jt === undefined) continue;
        for (const [slot, l] of [[0, x.jt], [1, x.jf!]] as const) {
          if (tramp[i][slot]) continue;
          if (target(l) - pos[i] - 1 > 255) {
            tramp[i][slot] = true;
            changed = true;
          }
        }
      }
      if (changed) total = layout();
    }
    if (total > BPF_MAXINSNS) {
      throw new InvalidArgumentError(
        `Cannot compile seccomp filter: ${total} instructions exceed the kernel limit of ${BPF_MAXINSNS}`,
      );
    }
    const out = new Uint8Array(total * SOCK_FILTER_SIZE);
    const view = new DataView(out.buffer);
    const put = (at: number, code: number, jt: number, jf: number, k: number) => {
      if (jt < 0 || jf < 0 || jt > 255 || jf > 255) throw new Error(`Jump out of range at ${at}`);
      const o = at * SOCK_FILTER_SIZE;
      view.setUint16(o, code, true);
      view.setUint8(o + 2, jt);
      view.setUint8(o + 3, jf);
      view.setUint32(o + 4, k >>> 0, true);
    };
    for (let i = 0; i < n; i++) {
      const x = insns[i];
      const p = pos[i];
      if (x.code === BPF.JA) {
        const off = target(x.jt!) - p - 1;
        if (off < 0) throw new Error(`Backward jump at ${p}`);
        put(p, BPF.JA, 0, 0, off);
        continue;
      }
      if (x.jt === undefined) {
        put(p, x.code, 0, 0, x.k);
        continue;
      }
      let next = p + 1;
      let jt: number;
      let jf: number;
      if (tramp[i][0]) {
        jt = next - p - 1;
        put(next, BPF.JA, 0, 0, target(x.jt) - next - 1);
        next++;
      } else jt = target(x.jt) - p - 1;
      if (tramp[i][1]) {
        jf = next - p - 1;
        put(next, BPF.JA, 0, 0, target(x.jf!) - next - 1);
        next++;
      } else jf = target(x.jf!) - p - 1;
      put(p, x.code, jt, jf, x.k);
    }
    return out;
  }
}

/** One decoded instruction. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Decodes `struct sock_filter[]` bytes. */
export function decodeProgram(bytes: Uint8Array): SockFilter[] {
  if (bytes.length % SOCK_FILTER_SIZE !== 0) {
    throw new InvalidArgumentError(
      `Invalid seccomp program: ${bytes.length} bytes is not a multiple of ${SOCK_FILTER_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: SockFilter[] = [];
  for (let o = 0; o < bytes.length; o += SOCK_FILTER_SIZE) {
    out.push({
      code: view.getUint16(o, true),
      jt: view.getUint8(o + 2),
      jf: view.getUint8(o + 3),
      k: view.getUint32(o + 4, true),
    });
  }
  return out;
}
