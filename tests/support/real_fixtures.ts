/**
 * The real telemetry files in `tests/fixtures/` (see its README for where
 * each comes from and what a correct program does with it).
 *
 * @module
 */

/** The fixtures directory, inside the repository. */
export const REAL_FIXTURES: URL = new URL("../fixtures/", import.meta.url);

/** 29 real events of a 2018 duo-fpp match, pretty-printed: valid telemetry. */
export const EXCERPT: URL = new URL("telemetry-2018-eu-duo-fpp-excerpt.json", REAL_FIXTURES);

/** The first 2.8 MB of a real 2018 squad-fpp match, cut inside an event: invalid JSON. */
export const TRUNCATED: URL = new URL("telemetry-2018-eu-squad-fpp-truncated.json", REAL_FIXTURES);

/** The match id in {@linkcode EXCERPT}'s `LogMatchDefinition`. */
export const EXCERPT_MATCH_ID = "8c1c8a56-4104-46ef-8aec-5e012b041574";
