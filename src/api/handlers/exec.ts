/**
 * Exec endpoints. The engine has no exec yet (`EngineApi` lacks it), so each answers 501 with
 * the reason; the routes exist so clients get that message instead of "page not found".
 *
 * @module
 */
import { NotImplementedError } from "../../errors.ts";
import type { ApiRequest, RouteTable } from "./_common.ts";

function notYet(req: ApiRequest): Promise<void> {
  const target = req.params.id ? ` "${req.params.id}"` : "";
  return Promise.reject(
    new NotImplementedError(`Cannot exec${target}: exec is not supported by docker-ts yet`),
  );
}

/** Registers the exec routes. */
export function registerExec(r: RouteTable): void {
  r.add("POST", "/containers/{id}/exec", notYet);
  r.add("POST", "/exec/{id}/start", notYet);
  r.add("POST", "/exec/{id}/resize", notYet);
  r.add("GET", "/exec/{id}/json", notYet);
}
