// UDP echo server for nat_test.ts (run inside a test netns): answers "echo:<payload>", prints
// "ready" once bound. busybox's nc has no UDP mode, hence this.
import dgram from "node:dgram";

const port = Number(Deno.args[0]);
const sock = dgram.createSocket("udp4");
sock.on("message", (msg, rinfo) => {
  sock.send(`echo:${msg}`, rinfo.port, rinfo.address);
});
sock.bind(port, "0.0.0.0", () => console.log("ready"));
