/**
 * A fake cgroupfs over a temp directory: the real files are ordinary files, and this CgroupSys
 * plays the kernel's part (populating new cgroups, enforcing the rules the drivers must respect,
 * settling freezes) and records every call. It never signals a real process.
 *
 * @module
 */
import { RealCgroupSys } from "../../src/cgroups/sys.ts";
import { type CgroupSys, CgroupSysError } from "../../src/cgroups/types.ts";

/** One recorded call. */
export interface FakeCall {
  op: "write" | "mkdir" | "rmdir" | "kill" | "rename";
  /** Path relative to the fake root (or the pid for kill). */
  path: string;
  data?: string;
}

/** Options for the fake. */
export interface FakeOptions {
  /** v1 with memsw files (swap accounting on); v2 with memory.swap.max. Default true. */
  swap?: boolean;
  /** v2: controllers the root offers. */
  v2Controllers?: string[];
  /** v2: whether cgroup.kill exists (Linux 5.14+). Default true. */
  cgroupKill?: boolean;
  /** v1: hierarchies to mount (default memory, cpu,cpuacct, cpuset, pids, freezer, devices). */
  v1Hierarchies?: string[];
}

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.soft_limit_in_bytes": "9223372036854771712\n",
    "memory.usage_in_bytes": "0\n",
    "memory.max_usage_in_bytes": "0\n",
    "memory.failcnt": "0\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    "memory.stat": "cache 0\nrss 0\ntotal_inactive_file 0\n",
  },
  cpu: {
    "cpu.shares": "1024\n",
    "cpu.cfs_period_us": "100000\n",
    "cpu.cfs_quota_us": "-1\n",
    "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
  },
  cpuacct: {
    "cpuacct.usage": "0\n",
    "cpuacct.usage_user": "0\n",
    "cpuacct.usage_sys": "0\n",
    "cpuacct.usage_percpu": "0 0 0 0 \n",
  },
  cpuset: { "cpuset.cpus": "\n", "cpuset.mems": "\n" },
  pids: { "pids.max": "max\n", "pids.current": "0\n" },
  freezer: { "freezer.state": "THAWED\n" },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" },
};

const V2_CORE: Record<string, string> = {
  "cgroup.procs": "",
  "cgroup.threads": "",
  "cgroup.subtree_control": "\n",
  "cgroup.events": "populated 0\nfrozen 0\n",
  "cgroup.freeze": "0\n",
  "cgroup.type": "domain\n",
  "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
};

const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.max": "max\n",
    "memory.low": "0\n",
    "memory.current": "0\n",
    "memory.peak": "0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "memory.stat": "anon 0\nfile 0\ninactive_file 0\n",
  },
  cpu: {
    "cpu.weight": "100\n",
    "cpu.max": "max 100000\n",
    "cpu.stat":
      "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
  },
  cpuset: { "cpuset.cpus": "\n", "cpuset.mems": "\n", "cpuset.cpus.effective": "0-3\n" },
  pids: { "pids.max": "max\n", "pids.current": "0\n" },
  io: { "io.max": "", "io.stat": "" },
};

function sysError(op: string, path: string, code: string, text: string): CgroupSysError {
  return new CgroupSysError(op, path, code, text);
}

/** The fake kernel. */
export class FakeCgroupSys implements CgroupSys {
  readonly root: string;
  readonly version: 1 | 2;
  readonly calls: FakeCall[] = [];
  /** Make the next matching call fail: (op, relative path) → errno name. */
  failOn?: (op: string, rel: string) => string | undefined;
  readonly #real = new RealCgroupSys();
  readonly #opts: FakeOptions;

  private constructor(root: string, version: 1 | 2, opts: FakeOptions) {
    this.root = root;
    this.version = version;
    this.#opts = opts;
  }

  /** A v1 (hybrid) tree: hierarchies per controller plus an almost empty `unified` cgroup2. */
  static v1(root: string, opts: FakeOptions = {}): FakeCgroupSys {
    const fake = new FakeCgroupSys(root, 1, opts);
    const hierarchies = opts.v1Hierarchies ??
      ["memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices"];
    for (const h of hierarchies) {
      const dir = `${root}/${h}`;
      Deno.mkdirSync(dir, { recursive: true });
      fake.#put(dir, { "cgroup.procs": "1\n", tasks: "1\n", "cgroup.clone_children": "0\n" });
      if (h === "cpuset") fake.#put(dir, { "cpuset.cpus": "0-3\n", "cpuset.mems": "0\n" });
      if (h === "memory") fake.#put(dir, fake.#memoryFiles());
      if (h.includes(",")) {
        for (const part of h.split(",")) Deno.symlinkSync(h, `${root}/${part}`);
      }
    }
    Deno.mkdirSync(`${root}/unified`);
    fake.#put(`${root}/unified`, { "cgroup.controllers": "hugetlb\n", "cgroup.procs": "1\n" });
    return fake;
  }

  /** A v2 tree with the given root controllers. */
  static v2(root: string, opts: FakeOptions = {}): FakeCgroupSys {
    const fake = new FakeCgroupSys(root, 2, opts);
    const controllers = opts.v2Controllers ??
      ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];
    Deno.mkdirSync(root, { recursive: true });
    fake.#put(root, {
      "cgroup.controllers": controllers.join(" ") + "\n",
      "cgroup.subtree_control": "\n",
      "cgroup.procs": "1\n",
    });
    return fake;
  }

  #memoryFiles(): Record<string, string> {
    const files = { ...V1_FILES.memory };
    if (this.#opts.swap ?? true) files["memory.memsw.limit_in_bytes"] = "9223372036854771712\n";
    return files;
  }

  #put(dir: string, files: Record<string, string>): void {
    for (const [name, text] of Object.entries(files)) {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
    }
  }

  rel(path: string): string {
    return path.startsWith(this.root + "/") ? path.slice(this.root.length + 1) : path;
  }

  /** Reads a file by path relative to the root (test convenience). */
  get(rel: string): string {
    return Deno.readTextFileSync(`${this.root}/${rel}`);
  }

  /** Writes a file by path relative to the root without recording (test fixture values). */
  set(rel: string, text: string): void {
    Deno.writeTextFileSync(`${this.root}/${rel}`, text);
  }

  /** Writes recorded with a given op (relative paths). */
  writes(): FakeCall[] {
    return this.calls.filter((c) => c.op === "write");
  }

  #fail(op: string, path: string): void {
    const code = this.failOn?.(op, this.rel(path));
    if (code) throw sysError(op, path, code, "injected failure");
  }

  #v1Hierarchy(path: string): string {
    return this.rel(path).split("/")[0];
  }

  rename(from: string, to: string): void {
    this.calls.push({ op: "rename", path: this.rel(from), data: this.rel(to) });
    this.#fail("rename", from);
    this.#real.rename(from, to);
  }

  readFile(path: string): string {
    const text = this.#real.readFile(path);
    // A freezing cgroup reports FREEZING once before settling, as the kernel may.
    if (path.endsWith("/freezer.state") && text.trim() === "FREEZING") {
      Deno.writeTextFileSync(path, "FROZEN\n");
    }
    return text;
  }

  writeFile(path: string, data: string): void {
    this.calls.push({ op: "write", path: this.rel(path), data });
    this.#fail("write", path);
    if (!this.#real.exists(path)) {
      throw sysError("write", path, "ENOENT", "No such file or directory");
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    const base = path.slice(path.lastIndexOf("/") + 1);
    const read = (name: string): string => {
      try {
        return Deno.readTextFileSync(`${dir}/${name}`);
      } catch {
        return "";
      }
    };
    const num = (text: string): number => (text.trim() === "-1" ? Infinity : Number(text.trim()));

    switch (base) {
      case "cgroup.procs":
      case "tasks": {
        if (
          this.version === 1 && this.#v1Hierarchy(path).includes("cpuset") &&
          (read("cpuset.cpus").trim() === "" || read("cpuset.mems").trim() === "")
        ) {
          throw sysError("write", path, "ENOSPC", "No space left on device");
        }
        if (this.version === 2 && dir !== this.root && read("cgroup.subtree_control").trim()) {
          throw sysError("write", path, "EBUSY", "Device or resource busy");
        }
        const pids = new Set(read("cgroup.procs").split("\n").filter((l) => l));
        pids.add(data.trim());
        Deno.writeTextFileSync(`${dir}/cgroup.procs`, [...pids].join("\n") + "\n");
        return;
      }
      case "cgroup.subtree_control": {
        const available = new Set(read("cgroup.controllers").split(/\s+/).filter((t) => t));
        const enabled = new Set(read("cgroup.subtree_control").split(/\s+/).filter((t) => t));
        if (dir !== this.root && read("cgroup.procs").trim()) {
          throw sysError("write", path, "EBUSY", "Device or resource busy");
        }
        for (const token of data.split(/\s+/).filter((t) => t)) {
          const name = token.slice(1);
          if (!available.has(name)) throw sysError("write", path, "ENOENT", "No such file");
          if (token[0] === "+") enabled.add(name);
          else if (token[0] === "-") enabled.delete(name);
          else throw sysError("write", path, "EINVAL", "Invalid argument");
        }
        Deno.writeTextFileSync(path, [...enabled].join(" ") + "\n");
        return;
      }
      case "memory.limit_in_bytes": {
        const memsw = read("memory.memsw.limit_in_bytes");
        if (memsw && num(data) > num(memsw)) {
          throw sysError("write", path, "EINVAL", "Invalid argument");
        }
        break;
      }
      case "memory.memsw.limit_in_bytes": {
        if (num(data) < num(read("memory.limit_in_bytes"))) {
          throw sysError("write", path, "EINVAL", "Invalid argument");
        }
        break;
      }
      case "freezer.state": {
        // FROZEN on a frozen (or freezing) cgroup keeps its state, as in the kernel.
        const now = read("freezer.state").trim();
        const next = data.trim() !== "FROZEN" ? "THAWED" : now === "THAWED" ? "FREEZING" : now;
        Deno.writeTextFileSync(path, next + "\n");
        return;
      }
      case "cgroup.freeze":
        Deno.writeTextFileSync(
          `${dir}/cgroup.events`,
          `populated ${read("cgroup.procs").trim() ? 1 : 0}\nfrozen ${data.trim()}\n`,
        );
        break;
      case "cgroup.kill":
        Deno.writeTextFileSync(`${dir}/cgroup.procs`, "");
        return;
    }
    Deno.writeTextFileSync(path, data.endsWith("\n") ? data : data + "\n");
  }

  exists(path: string): boolean {
    return this.#real.exists(path);
  }

  mkdir(path: string): boolean {
    this.calls.push({ op: "mkdir", path: this.rel(path) });
    this.#fail("mkdir", path);
    const made = this.#real.mkdir(path);
    if (!made) return false;
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (this.version === 1) {
      this.#put(path, { "cgroup.procs": "", tasks: "", "cgroup.clone_children": "0\n" });
      for (const controller of this.#v1Hierarchy(path).split(",")) {
        const files = controller === "memory" ? this.#memoryFiles() : V1_FILES[controller];
        if (files) this.#put(path, files);
      }
    } else {
      const enabled = Deno.readTextFileSync(`${parent}/cgroup.subtree_control`).trim();
      this.#put(path, { ...V2_CORE, "cgroup.controllers": enabled + "\n" });
      if (this.#opts.cgroupKill ?? true) this.#put(path, { "cgroup.kill": "" });
      for (const controller of enabled.split(/\s+/).filter((c) => c)) {
        const files = { ...V2_FILES[controller] };
        if (controller === "memory" && (this.#opts.swap ?? true)) {
          files["memory.swap.max"] = "max\n";
        }
        this.#put(path, files);
      }
    }
    return true;
  }

  /** Like the kernel: files vanish with the directory; refused while it has tasks. */
  rmdir(path: string): void {
    this.calls.push({ op: "rmdir", path: this.rel(path) });
    this.#fail("rmdir", path);
    if (!this.#real.exists(path)) throw sysError("rmdir", path, "ENOENT", "No such file");
    if (this.listDirs(path).length > 0) throw sysError("rmdir", path, "EBUSY", "Device busy");
    let procs = "";
    try {
      procs = Deno.readTextFileSync(`${path}/cgroup.procs`).trim();
    } catch { /* no procs file */ }
    if (procs) throw sysError("rmdir", path, "EBUSY", "Device or resource busy");
    Deno.removeSync(path, { recursive: true });
  }

  listDirs(path: string): string[] {
    return this.#real.listDirs(path);
  }

  realpath(path: string): string {
    return this.#real.realpath(path);
  }

  /** Records the signal; SIGKILL makes the pid leave every cgroup.procs of the tree. */
  kill(pid: number, signal: Deno.Signal): void {
    this.calls.push({ op: "kill", path: String(pid), data: signal });
    if (signal !== "SIGKILL") return;
    const walk = (dir: string): void => {
      for (const entry of Deno.readDirSync(dir)) {
        const p = `${dir}/${entry.name}`;
        if (entry.isDirectory) walk(p);
        else if (entry.name === "cgroup.procs" && dir !== this.root) {
          const left = Deno.readTextFileSync(p).split("\n").filter((l) => l && l !== String(pid));
          Deno.writeTextFileSync(p, left.length ? left.join("\n") + "\n" : "");
        }
      }
    };
    walk(this.root);
  }
}
