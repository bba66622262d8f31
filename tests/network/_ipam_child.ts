// Child process of ipam_test.ts: allocates one address and prints it.
import { Ipam } from "../../src/network/ipam.ts";

const [root, network, owner] = Deno.args;
console.log(new Ipam({ root }).allocate(network, { owner }));
