import assert from "node:assert/strict";
import {
  hostNetworkHostsContent,
  hostsContent,
  resolvConfContent,
} from "../../src/spec/etc_files.ts";
import { mergeEnv, parseEnvFileContent, resolveEnvFlags } from "../../src/spec/env_file.ts";

Deno.test("hosts: Docker's localhost lines, extra hosts, own address", () => {
  const text = hostsContent({ hostname: "abc", extraHosts: [{ host: "db", ip: "10.0.0.2" }] });
  assert.equal(
    text,
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n" +
      "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.2\tdb\n",
  );
  assert.match(hostsContent({ hostname: "abc", ip: "172.17.0.2" }), /172\.17\.0\.2\tabc\n$/);
  assert.equal(
    hostNetworkHostsContent("127.0.0.1 localhost", [{ host: "x", ip: "1.2.3.4" }]),
    "127.0.0.1 localhost\n1.2.3.4\tx\n",
  );
});

Deno.test("resolv.conf: loopback nameservers replaced, host network kept, --dns overrides", () => {
  const host =
    "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver 1.1.1.1\noptions ndots:2\n";
  assert.equal(
    resolvConfContent({ host, hostNetwork: false }),
    "# generated\nsearch example.com\nnameserver 1.1.1.1\noptions ndots:2\n",
  );
  assert.equal(
    resolvConfContent({ host: "nameserver 127.0.0.1\n", hostNetwork: false }),
    "nameserver 8.8.8.8\nnameserver 8.8.4.4\n",
  );
  assert.equal(
    resolvConfContent({ host: "nameserver 127.0.0.1\n", hostNetwork: true }),
    "nameserver 127.0.0.1\n",
  );
  assert.equal(
    resolvConfContent({
      host,
      hostNetwork: false,
      dns: ["9.9.9.9"],
      dnsSearch: ["a.b"],
      dnsOptions: ["rotate"],
    }),
    "# generated\nsearch a.b\nnameserver 9.9.9.9\noptions rotate\n",
  );
});

Deno.test("env files and -e flags", () => {
  const lookup = (n: string) => (n === "FROM_CALLER" ? "yes" : undefined);
  assert.deepEqual(
    parseEnvFileContent("# c\n\n  A=1\nB= spaced \nFROM_CALLER\nUNSET\nC=x=y\n", "f", lookup),
    ["A=1", "B= spaced ", "FROM_CALLER=yes", "C=x=y"],
  );
  assert.throws(() => parseEnvFileContent("BAD NAME=1\n", "f", lookup), /contains whitespaces/);
  assert.deepEqual(resolveEnvFlags(["A=1", "FROM_CALLER", "UNSET"], lookup), [
    "A=1",
    "FROM_CALLER=yes",
  ]);
  assert.deepEqual(mergeEnv(["A=1", "B=2"], ["B=3", "C=4"]), ["A=1", "B=3", "C=4"]);
});
