import assert from "node:assert/strict";
import {
  AF_INET,
  attrNested,
  Attrs,
  attrString,
  attrU32,
  decodeErrorAck,
  decodeIfInfo,
  decodeMessages,
  decodeRtMsg,
  encodeIfAddr,
  encodeIfInfo,
  encodeMessage,
  encodeRtMsg,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  RTM_NEWLINK,
} from "../../src/network/netlink.ts";

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g)!.map((x) => parseInt(x, 16)));
}

Deno.test("encodes RTM_NEWLINK for a bridge byte for byte", () => {
  const msg = encodeMessage({
    type: RTM_NEWLINK,
    flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfInfo({}),
    attrs: [
      attrString(IFLA_IFNAME, "br0"),
      attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, "bridge")]),
    ],
  }, 1);
  assert.equal(
    hex(msg),
    hex(unhex(`
      38000000 1000 0506 01000000 00000000
      00000000 00000000 00000000 00000000
      08000300 62723000
      10001200 0b000100 62726964 67650000`)),
  );
});

Deno.test("encodes ifinfomsg with index, flags and change", () => {
  assert.equal(
    hex(encodeIfInfo({ index: 7, flags: 1, change: 1 })),
    "00000000" + "07000000" + "01000000" + "01000000",
  );
  const d = decodeIfInfo(
    encodeIfInfo({ family: 2, type: 1, index: 9, flags: 0x1003, change: 0xffffffff }),
  );
  assert.deepEqual(d, { family: 2, type: 1, index: 9, flags: 0x1003, change: 0xffffffff });
});

Deno.test("encodes ifaddrmsg and rtmsg", () => {
  assert.equal(hex(encodeIfAddr({ family: AF_INET, prefixLen: 24, index: 3 })), "0218000003000000");
  const rt = encodeRtMsg({
    family: AF_INET,
    dstLen: 16,
    table: 254,
    protocol: 3,
    scope: 0,
    type: 1,
  });
  assert.equal(hex(rt), "021000 00fe030001 00000000".replace(/ /g, ""));
  assert.deepEqual(decodeRtMsg(rt), {
    family: 2,
    dstLen: 16,
    srcLen: 0,
    tos: 0,
    table: 254,
    protocol: 3,
    scope: 0,
    type: 1,
    flags: 0,
  });
});

Deno.test("parses attributes, nested ones and padding", () => {
  const msg = encodeMessage({
    type: RTM_NEWLINK,
    flags: 0,
    header: encodeIfInfo({ index: 4 }),
    attrs: [
      attrString(IFLA_IFNAME, "veth12345"),
      attrU32(IFLA_MASTER, 0xdeadbeef),
      attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, "veth")]),
    ],
  }, 42);
  const [m] = decodeMessages(msg);
  assert.equal(m.seq, 42);
  assert.equal(m.type, RTM_NEWLINK);
  const attrs = new Attrs(m.payload.subarray(16));
  assert.equal(attrs.string(IFLA_IFNAME), "veth12345");
  assert.equal(attrs.u32(IFLA_MASTER), 0xdeadbeef);
  assert.equal(attrs.nested(IFLA_LINKINFO)?.string(IFLA_INFO_KIND), "veth");
  assert.equal(attrs.has(99), false);
});

Deno.test("splits a datagram holding several messages", () => {
  const a = encodeMessage({ type: 16, flags: 2, header: encodeIfInfo({ index: 1 }) }, 5);
  const b = encodeMessage({ type: 3, flags: 2, header: new Uint8Array(4) }, 5);
  const buf = new Uint8Array(a.length + b.length);
  buf.set(a);
  buf.set(b, a.length);
  const msgs = decodeMessages(buf);
  assert.deepEqual(msgs.map((m) => m.type), [16, 3]);
  assert.throws(() =>
    decodeMessages(buf.subarray(0, a.length + 8).map((x, i) => (i === 0 ? 0xff : x)))
  );
});

Deno.test("decodes an error ack with the kernel's extended-ack text", () => {
  // nlmsgerr { error = -EEXIST, echoed nlmsghdr } + NLMSGERR_ATTR_MSG "Link exists"
  const payload = unhex(`
    efffffff
    38000000 1000 0506 01000000 00000000
    10000100 4c696e6b 20657869 73747300`);
  const ack = decodeErrorAck({ type: NLMSG_ERROR, flags: 0x300, seq: 1, pid: 0, payload });
  assert.deepEqual(ack, { errno: 17, message: "Link exists" });
  const ok = decodeErrorAck({
    type: NLMSG_ERROR,
    flags: 0x100,
    seq: 1,
    pid: 0,
    payload: payload.subarray(0, 20),
  });
  assert.deepEqual(ok, { errno: 17 });
  const success = decodeErrorAck({
    type: NLMSG_ERROR,
    flags: 0,
    seq: 1,
    pid: 0,
    payload: new Uint8Array(20),
  });
  assert.equal(success.errno, 0);
});
