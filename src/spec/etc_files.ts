/**
 * The per-container `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, generated as Docker
 * does and bind-mounted into the container.
 *
 * @module
 */
import type { ExtraHost } from "./run_options.ts";

/** Docker's default nameservers when the host only has loopback ones. */
export const DEFAULT_NAMESERVERS: readonly string[] = ["8.8.8.8", "8.8.4.4"];

/** Content of `/etc/hosts` for a container with its own network namespace. */
export function hostsContent(
  options: { hostname: string; extraHosts?: readonly ExtraHost[]; ip?: string },
): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  for (const h of options.extraHosts ?? []) lines.push(`${h.ip}\t${h.host}`);
  // Docker names the container's own address only when it has one (not with --network none).
  if (options.ip) lines.push(`${options.ip}\t${options.hostname}`);
  return lines.join("\n") + "\n";
}

/** Content of `/etc/hosts` for `--network host`: the host's file plus `--add-host` entries. */
export function hostNetworkHostsContent(
  hostFile: string,
  extraHosts: readonly ExtraHost[],
): string {
  let text = hostFile;
  if (text !== "" && !text.endsWith("\n")) text += "\n";
  for (const h of extraHosts) text += `${h.ip}\t${h.host}\n`;
  return text;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip === "0:0:0:0:0:0:0:1";
}

/** Inputs of {@link resolvConfContent}. */
export interface ResolvOptions {
  /** The host's resolv.conf content. */
  host: string;
  /** `--network host` keeps the host's nameservers as they are. */
  hostNetwork: boolean;
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOptions?: readonly string[];
}

/**
 * Content of a container's `/etc/resolv.conf`: the host's, with loopback nameservers removed
 * for non-host networks (Google's resolvers when none is left), `--dns*` flags replacing their
 * kind of line.
 */
export function resolvConfContent(options: ResolvOptions): string {
  const keep: string[] = [];
  let nameservers: string[] = [];
  let search: string | undefined;
  let opts: string | undefined;
  for (const line of options.host.split("\n")) {
    const t = line.trim();
    const m = /^(nameserver|search|domain|options)\s+(.*)$/.exec(t);
    if (!m) {
      if (t !== "") keep.push(line);
      continue;
    }
    if (m[1] === "nameserver") nameservers.push(m[2].trim());
    else if (m[1] === "search" || m[1] === "domain") search = m[2].trim();
    else opts = m[2].trim();
  }
  if (options.dns && options.dns.length > 0) nameservers = [...options.dns];
  else if (!options.hostNetwork) {
    nameservers = nameservers.filter((ns) => !isLoopback(ns));
    if (nameservers.length === 0) nameservers = [...DEFAULT_NAMESERVERS];
  }
  if (options.dnsSearch && options.dnsSearch.length > 0) {
    search = options.dnsSearch.filter((s) => s !== ".").join(" ") || undefined;
  }
  if (options.dnsOptions && options.dnsOptions.length > 0) opts = options.dnsOptions.join(" ");
  const out = [...keep.filter((l) => l.trim().startsWith("#") || l.trim().startsWith(";"))];
  if (search) out.push(`search ${search}`);
  for (const ns of nameservers) out.push(`nameserver ${ns}`);
  if (opts) out.push(`options ${opts}`);
  return out.join("\n") + "\n";
}

/** Reads the host's resolv.conf, preferring systemd-resolved's real upstream list. */
export function readHostResolvConf(): string {
  const read = (p: string): string | null => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return null;
    }
  };
  const main = read("/etc/resolv.conf") ?? "";
  if (/^\s*nameserver\s+127\.0\.0\.53\s*$/m.test(main)) {
    return read("/run/systemd/resolve/resolv.conf") ?? main;
  }
  return main;
}
