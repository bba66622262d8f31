/**
 * Container ids and names: 64-hex random ids, Docker's name rule, and random
 * `adjective_surname` names when none is given.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { CONTAINER_NAME_RE } from "../spec/run_options.ts";

/** A new random 64-hex container id (never all digits, so it is never taken for a number). */
export function newContainerId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

/** True for a full 64-hex id. */
export function isFullId(s: string): boolean {
  return /^[a-f0-9]{64}$/.test(s);
}

/** Validates a user-given name and returns it without the leading `/`. */
export function normalizeName(name: string): string {
  if (!CONTAINER_NAME_RE.test(name)) {
    throw new InvalidArgumentError(
      `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  return name.replace(/^\//, "");
}

const ADJECTIVES = [
  "admiring",
  "agitated",
  "amazing",
  "angry",
  "awesome",
  "blissful",
  "bold",
  "boring",
  "brave",
  "busy",
  "charming",
  "clever",
  "cool",
  "compassionate",
  "competent",
  "confident",
  "cranky",
  "crazy",
  "dazzling",
  "determined",
  "distracted",
  "dreamy",
  "eager",
  "ecstatic",
  "elastic",
  "elated",
  "elegant",
  "eloquent",
  "epic",
  "exciting",
  "fervent",
  "festive",
  "flamboyant",
  "focused",
  "friendly",
  "frosty",
  "funny",
  "gallant",
  "gifted",
  "goofy",
  "gracious",
  "great",
  "happy",
  "hardcore",
  "heuristic",
  "hopeful",
  "hungry",
  "infallible",
  "inspiring",
  "intelligent",
  "interesting",
  "jolly",
  "jovial",
  "keen",
  "kind",
  "laughing",
  "loving",
  "lucid",
  "magical",
  "modest",
  "musing",
  "mystifying",
  "naughty",
  "nervous",
  "nice",
  "nifty",
  "nostalgic",
  "objective",
  "optimistic",
  "peaceful",
  "pedantic",
  "pensive",
  "practical",
  "priceless",
  "quirky",
  "quizzical",
  "recursing",
  "relaxed",
  "reverent",
  "romantic",
  "sad",
  "serene",
  "sharp",
  "silly",
  "sleepy",
  "stoic",
  "strange",
  "stupefied",
  "suspicious",
  "sweet",
  "tender",
  "thirsty",
  "trusting",
  "unruffled",
  "upbeat",
  "vibrant",
  "vigilant",
  "vigorous",
  "wizardly",
  "wonderful",
  "xenodochial",
  "youthful",
  "zealous",
  "zen",
];

// Scientists and engineers, as in Docker's generator (a list of our own choosing).
const SURNAMES = [
  "agnesi",
  "archimedes",
  "babbage",
  "bardeen",
  "bartik",
  "bell",
  "bhabha",
  "blackwell",
  "bohr",
  "boole",
  "borg",
  "bose",
  "brattain",
  "cannon",
  "carson",
  "cerf",
  "chandrasekhar",
  "cohen",
  "curie",
  "darwin",
  "diffie",
  "dijkstra",
  "easley",
  "einstein",
  "elion",
  "euclid",
  "euler",
  "faraday",
  "fermat",
  "fermi",
  "feynman",
  "franklin",
  "galileo",
  "gauss",
  "goldberg",
  "goodall",
  "hamilton",
  "hawking",
  "heisenberg",
  "hellman",
  "hertz",
  "hodgkin",
  "hopper",
  "hypatia",
  "jackson",
  "jennings",
  "johnson",
  "joliot",
  "kalam",
  "kepler",
  "khorana",
  "knuth",
  "kowalevski",
  "lalande",
  "lamarr",
  "lamport",
  "leakey",
  "lovelace",
  "lumiere",
  "mayer",
  "mccarthy",
  "mcclintock",
  "meitner",
  "mendel",
  "merkle",
  "mirzakhani",
  "morse",
  "napier",
  "nash",
  "newton",
  "nobel",
  "noether",
  "pascal",
  "pasteur",
  "payne",
  "perlman",
  "pike",
  "poincare",
  "ptolemy",
  "raman",
  "ramanujan",
  "ritchie",
  "rosalind",
  "sammet",
  "shannon",
  "shockley",
  "sinoussi",
  "stonebraker",
  "swanson",
  "tesla",
  "thompson",
  "torvalds",
  "turing",
  "varahamihira",
  "volhard",
  "wescoff",
  "wiles",
  "williams",
  "wilson",
  "wing",
  "wozniak",
  "wright",
  "yalow",
  "yonath",
];

function pick<T>(list: readonly T[]): T {
  const n = crypto.getRandomValues(new Uint32Array(1))[0];
  return list[n % list.length];
}

/** A random Docker-style name; `retry > 0` appends a digit as Docker does after a clash. */
export function randomName(retry = 0): string {
  let name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  // Docker's one hard-coded exception.
  if (name === "boring_wozniak") return randomName(retry);
  if (retry > 0) name += String(crypto.getRandomValues(new Uint8Array(1))[0] % 10);
  return name;
}
