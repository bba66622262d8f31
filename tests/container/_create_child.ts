// Child process of store_test.ts: tries to create a container named argv[2].
import { ConflictError } from "../../src/errors.ts";
import { Paths } from "../../src/paths.ts";
import { newContainerId } from "../../src/container/ids.ts";
import { ContainerStore } from "../../src/container/store.ts";
import { parseRunOptions } from "../../src/spec/run_options.ts";
import type { OciSpec } from "../../src/runtime/oci_spec.ts";

const [root, runroot, name] = Deno.args;
const store = new ContainerStore(new Paths(root, runroot));
const id = newContainerId();
try {
  await store.create({
    record: {
      id,
      image: "busybox",
      imageId: "sha256:" + "0".repeat(64),
      created: new Date().toISOString(),
      options: parseRunOptions({ image: "busybox" }),
      labels: {},
      entrypoint: null,
      cmd: ["sh"],
      imageConfig: { Env: [], WorkingDir: "", User: "" },
      rootfs: { type: "bind", source: "/x", options: [] },
      layerDirs: [],
      paths: {
        dir: "",
        config: "",
        hostname: "",
        hosts: "",
        resolvConf: "",
        upper: "",
        work: "",
        merged: "",
      },
    },
    requestedName: name,
    spec: { ociVersion: "1.0.2" } as unknown as OciSpec,
    files: {},
  });
  console.log("created");
} catch (err) {
  console.log(err instanceof ConflictError ? "conflict" : `error ${err}`);
}
