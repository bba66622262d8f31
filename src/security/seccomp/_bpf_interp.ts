/**
 * A classic-BPF interpreter over `struct seccomp_data`, for tests and benches: it checks a
 * program the way the kernel's loader does (length, jump ranges, aligned loads inside
 * seccomp_data, a final RET) and runs it over crafted records. Private to the seccomp folder.
 *
 * @module
 */
import { BPF_MAXINSNS, decodeProgram, SECCOMP_DATA, SECCOMP_RET, type SockFilter } from "./bpf.ts";

/** A crafted `struct seccomp_data`. */
export interface SeccompData {
  /** Syscall number as the kernel reports it (x32 numbers include 0x40000000). */
  nr: number;
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Instruction pointer; default 0. */
  ip?: bigint;
  /** Up to six arguments (unsigned 64-bit; negative numbers are taken as two's complement). */
  args?: (bigint | number)[];
}

const CLASS = (c: number) => c & 0x07;
const SIZE = (c: number) => c & 0x18;
const MODE = (c: number) => c & 0xe0;
const OP = (c: number) => c & 0xf0;
const SRC_X = 0x08;

/**
 * Checks a program as the kernel would before attaching it (sk_chk_filter + seccomp's own
 * checks). Returns the decoded instructions.
 *
 * @throws Error describing the first problem
 */
export function verifyProgram(bytes: Uint8Array): SockFilter[] {
  const prog = decodeProgram(bytes);
  if (prog.length === 0 || prog.length > BPF_MAXINSNS) {
    throw new Error(`Program length ${prog.length} outside 1..${BPF_MAXINSNS}`);
  }
  prog.forEach((x, pc) => {
    const cls = CLASS(x.code);
    if (cls === 0x05) {
      if (OP(x.code) === 0x00) {
        if (pc + 1 + x.k >= prog.length) throw new Error(`JA at ${pc} jumps past the end`);
      } else if (pc + 1 + Math.max(x.jt, x.jf) >= prog.length) {
        throw new Error(`Jump at ${pc} goes past the end`);
      }
    }
    if (x.code === 0x20 && (x.k % 4 !== 0 || x.k + 4 > SECCOMP_DATA.SIZE)) {
      throw new Error(`Load at ${pc} reads outside seccomp_data (offset ${x.k})`);
    }
    if ((x.code === 0x60 || x.code === 0x61 || x.code === 0x02 || x.code === 0x03) && x.k >= 16) {
      throw new Error(`Scratch memory index ${x.k} at ${pc} out of range`);
    }
  });
  const last = prog[prog.length - 1];
  if (CLASS(last.code) !== 0x06) throw new Error("Program does not end with RET");
  return prog;
}

/** The seccomp_data record as bytes (little-endian). */
export function encodeSeccompData(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(SECCOMP_DATA.SIZE));
  view.setUint32(SECCOMP_DATA.NR, d.nr >>> 0, true);
  view.setUint32(SECCOMP_DATA.ARCH, d.arch >>> 0, true);
  view.setBigUint64(SECCOMP_DATA.IP, d.ip ?? 0n, true);
  (d.args ?? []).slice(0, 6).forEach((v, i) => {
    view.setBigUint64(SECCOMP_DATA.ARGS + i * 8, BigInt.asUintN(64, BigInt(v)), true);
  });
  return view;
}

/** Result of one run. */
export interface RunResult {
  /** The 32-bit return value. */
  value: number;
  /** Instructions executed. */
  steps: number;
}

/**
 * Runs a verified program over one record.
 *
 * @throws Error for an opcode outside what seccomp accepts
 */
export function runFilter(prog: SockFilter[], data: SeccompData | DataView): RunResult {
  const mem = data instanceof DataView ? data : encodeSeccompData(data);
  const scratch = new Uint32Array(16);
  let A = 0;
  let X = 0;
  let steps = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc];
    steps++;
    switch (CLASS(code)) {
      case 0x00: // LD
        if (MODE(code) === 0x20 && SIZE(code) === 0x00) A = mem.getUint32(k, true);
        else if (MODE(code) === 0x00) A = k;
        else if (MODE(code) === 0x60) A = scratch[k];
        else if (MODE(code) === 0x80) A = SECCOMP_DATA.SIZE;
        else throw new Error(`Unsupported load 0x${code.toString(16)} at ${pc}`);
        break;
      case 0x01: // LDX
        if (MODE(code) === 0x00) X = k;
        else if (MODE(code) === 0x60) X = scratch[k];
        else if (MODE(code) === 0x80) X = SECCOMP_DATA.SIZE;
        else throw new Error(`Unsupported ldx 0x${code.toString(16)} at ${pc}`);
        break;
      case 0x02:
        scratch[k] = A;
        break;
      case 0x03:
        scratch[k] = X;
        break;
      case 0x04: { // ALU
        const src = code & SRC_X ? X : k;
        switch (OP(code)) {
          case 0x00:
            A = (A + src) >>> 0;
            break;
          case 0x10:
            A = (A - src) >>> 0;
            break;
          case 0x20:
            A = Math.imul(A, src) >>> 0;
            break;
          case 0x30:
            if (src === 0) return { value: SECCOMP_RET.KILL_THREAD, steps };
            A = Math.floor(A / src) >>> 0;
            break;
          case 0x40:
            A = (A | src) >>> 0;
            break;
          case 0x50:
            A = (A & src) >>> 0;
            break;
          case 0x60:
            A = src >= 32 ? 0 : (A << src) >>> 0;
            break;
          case 0x70:
            A = src >= 32 ? 0 : A >>> src;
            break;
          case 0x80:
            A = -A >>> 0;
            break;
          case 0x90:
            if (src === 0) return { value: SECCOMP_RET.KILL_THREAD, steps };
            A = (A % src) >>> 0;
            break;
          case 0xa0:
            A = (A ^ src) >>> 0;
            break;
          default:
            throw new Error(`Unsupported ALU op 0x${code.toString(16)} at ${pc}`);
        }
        break;
      }
      case 0x05: { // JMP
        if (OP(code) === 0x00) {
          pc += k;
          break;
        }
        const src = code & SRC_X ? X : k;
        let cond: boolean;
        switch (OP(code)) {
          case 0x10:
            cond = A === src;
            break;
          case 0x20:
            cond = A > src;
            break;
          case 0x30:
            cond = A >= src;
            break;
          case 0x40:
            cond = (A & src) !== 0;
            break;
          default:
            throw new Error(`Unsupported jump 0x${code.toString(16)} at ${pc}`);
        }
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // RET
        return { value: (code & 0x18) === 0x10 ? A : k >>> 0, steps };
      case 0x07: // MISC
        if (code === 0x07) X = A;
        else if (code === 0x87) A = X;
        else throw new Error(`Unsupported misc 0x${code.toString(16)} at ${pc}`);
        break;
    }
  }
  throw new Error("Program ran off the end");
}

/** A return value split into the action name and its data. */
export interface DecodedAction {
  action:
    | "KILL_PROCESS"
    | "KILL_THREAD"
    | "TRAP"
    | "ERRNO"
    | "USER_NOTIF"
    | "TRACE"
    | "LOG"
    | "ALLOW";
  data: number;
}

/** Splits a SECCOMP_RET value. */
export function decodeAction(value: number): DecodedAction {
  const v = value >>> 0;
  const data = v & 0xffff;
  if (v >= 0x80000000) return { action: "KILL_PROCESS", data: 0 };
  const act = (v & 0x7fff0000) >>> 0;
  switch (act) {
    case SECCOMP_RET.KILL_THREAD:
      return { action: "KILL_THREAD", data: 0 };
    case SECCOMP_RET.TRAP:
      return { action: "TRAP", data };
    case SECCOMP_RET.ERRNO:
      return { action: "ERRNO", data };
    case SECCOMP_RET.USER_NOTIF:
      return { action: "USER_NOTIF", data };
    case SECCOMP_RET.TRACE:
      return { action: "TRACE", data };
    case SECCOMP_RET.LOG:
      return { action: "LOG", data };
    case SECCOMP_RET.ALLOW:
      return { action: "ALLOW", data: 0 };
  }
  // The kernel treats unknown actions as KILL_PROCESS.
  return { action: "KILL_PROCESS", data: 0 };
}

/**
 * Convenience for tests: verifies `bytes` once and returns a function from record to
 * decoded action (`"ALLOW"`, `"ERRNO:1"`, `"KILL_PROCESS"`, …).
 */
export function interpreter(bytes: Uint8Array): (d: SeccompData) => string {
  const prog = verifyProgram(bytes);
  return (d) => {
    const r = decodeAction(runFilter(prog, d).value);
    return r.action === "ERRNO" || r.action === "TRACE" ? `${r.action}:${r.data}` : r.action;
  };
}
