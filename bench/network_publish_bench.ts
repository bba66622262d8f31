/**
 * Published-port bench, docker-ts side by side with rootful podman in the same run:
 *  - throughput: the host sends 512 MiB over TCP to 127.0.0.1:<published> where the container's
 *    busybox `nc -l` discards it (MB/s, best of 3);
 *  - connection rate: sequential HTTP GETs to the container's busybox `httpd` through the
 *    published port for 3 s (connections/s).
 * Both engines use DNAT (docker-ts: its nftables table; podman 4.3: netavark's iptables rules).
 *
 * Usage (root, from the repo): deno run -A bench/network_publish_bench.ts [--no-podman]
 * Goal: docker-ts >= 0.9 x podman's throughput.
 */
import * as path from "node:path";
import { Engine } from "../src/engine.ts";

const MiB = 1024 * 1024;
const TOTAL = 512 * MiB;

async function throughput(port: number): Promise<number> {
  const buf = new Uint8Array(MiB);
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let conn: Deno.TcpConn | undefined;
    for (let i = 0; i < 100 && !conn; i++) {
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (!conn) throw new Error(`Cannot connect to 127.0.0.1:${port}`);
    const t0 = performance.now();
    let sent = 0;
    while (sent < TOTAL) sent += await conn.write(buf);
    conn.closeWrite();
    // Wait for the server's close (nc exits at EOF), so all bytes reached it.
    await conn.read(new Uint8Array(16)).catch(() => null);
    const ms = performance.now() - t0;
    conn.close();
    best = Math.max(best, sent / MiB / (ms / 1000));
    await new Promise((r) => setTimeout(r, 300)); // the server loop restarts nc
  }
  return best;
}

async function connRate(port: number): Promise<number> {
  const end = performance.now() + 3000;
  let n = 0;
  while (performance.now() < end) {
    const res = await fetch(`http://127.0.0.1:${port}/index.html`, {
      headers: { connection: "close" },
    });
    await res.arrayBuffer();
    n++;
  }
  return n / 3;
}

const SERVER =
  "echo ok > /tmp/index.html; httpd -p 80 -h /tmp; while true; do nc -l -p 5001 > /dev/null; done";

async function benchDockerTs(): Promise<{ mbps: number; cps: number }> {
  const dir = await Deno.makeTempDir({ prefix: "dts-netbench-" });
  const engine = new Engine({
    root: path.join(dir, "root"),
    runroot: path.join(dir, "run"),
    network: { defaultBridge: "dtstbench0", natTable: "dtstbench", vethPrefix: "dtbv" },
  });
  await engine.load(path.resolve(".fixtures/busybox.tar"));
  const { Id } = await engine.create({
    image: "busybox",
    publish: ["127.0.0.1:18601:5001", "127.0.0.1:18602:80"],
    cmd: ["sh", "-c", SERVER],
  });
  await engine.start(Id);
  try {
    return { mbps: await throughput(18601), cps: await connRate(18602) };
  } finally {
    await engine.remove(Id, { force: true });
    const net = await engine.network();
    await net.close();
    await net.nat.deleteTable();
    new Deno.Command("ip", { args: ["link", "del", "dtstbench0"] }).outputSync();
    await Deno.remove(dir, { recursive: true });
  }
}

function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const out = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

function nftTables(): string[] {
  return sh("nft", ["list", "tables", "ip"]).split("\n").filter((l) => l !== "");
}

async function benchPodman(): Promise<{ mbps: number; cps: number }> {
  // netavark leaves its (emptied) iptables-nft chains behind: remove tables it created.
  const tablesBefore = new Set(nftTables());
  const dir = await Deno.makeTempDir({ prefix: "dts-netbench-podman-" });
  const conf = path.join(dir, "containers.conf");
  await Deno.writeTextFile(
    conf,
    `[containers]\ndefault_ulimits = ["nofile=20000:20000","nproc=32768:32768"]\n` +
      `[engine]\ncgroup_manager="cgroupfs"\nevents_logger="file"\nruntime="runc"\n`,
  );
  const env = { CONTAINERS_CONF: conf };
  const base = ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run")];
  // A plain rootfs tar of the fixture's busybox (the layer of the docker archive).
  const rootfs = path.join(dir, "rootfs");
  await Deno.mkdir(path.join(rootfs, "bin"), { recursive: true });
  await Deno.mkdir(path.join(rootfs, "tmp"), { recursive: true, mode: 0o1777 });
  await Deno.copyFile("/bin/busybox", path.join(rootfs, "bin/busybox"));
  for (const a of ["sh", "nc", "httpd"]) {
    await Deno.symlink("busybox", path.join(rootfs, "bin", a));
  }
  const tar = path.join(dir, "rootfs.tar");
  sh("tar", ["-C", rootfs, "-cf", tar, "."]);
  sh("podman", [...base, "import", tar, "localhost/bb:latest"], env);
  const name = `dtstbench${Date.now() % 100000}`;
  sh("podman", [
    ...base,
    "run",
    "-d",
    "--name",
    name,
    "-p",
    "127.0.0.1:18611:5001",
    "-p",
    "127.0.0.1:18612:80",
    "localhost/bb:latest",
    "/bin/sh",
    "-c",
    SERVER,
  ], env);
  try {
    return { mbps: await throughput(18611), cps: await connRate(18612) };
  } finally {
    try {
      sh("podman", [...base, "rm", "-f", "-t", "0", name], env);
    } catch {
      // reported by the caller's cleanup check
    }
    try {
      sh("podman", [...base, "system", "reset", "-f"], env);
    } catch {
      // best effort
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    for (const t of nftTables()) {
      if (!tablesBefore.has(t) && /^table ip (nat|filter)$/.test(t)) {
        sh("nft", ["delete", ...t.split(" ")]);
      }
    }
  }
}

if (import.meta.main) {
  const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward").trim();
  try {
    const d = await benchDockerTs();
    console.log(
      `docker-ts: ${d.mbps.toFixed(0)} MB/s throughput, ${d.cps.toFixed(0)} connections/s`,
    );
    if (!Deno.args.includes("--no-podman")) {
      const p = await benchPodman();
      console.log(
        `podman:    ${p.mbps.toFixed(0)} MB/s throughput, ${p.cps.toFixed(0)} connections/s`,
      );
      console.log(
        `ratio docker-ts/podman: throughput ${(d.mbps / p.mbps).toFixed(2)}, connection rate ${
          (d.cps / p.cps).toFixed(2)
        } (goal throughput >= 0.9)`,
      );
    }
  } finally {
    Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", `${forward}\n`);
  }
}
