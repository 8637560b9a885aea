// Skip profiles shipped with the package, so `skip: "on"` works out of the box for these models. Each entry is the
// JSON that `ffnskip calibrate` wrote into profiles/ (a test keeps the two identical).

import type { SkipProfile } from "./profile.js";

export const DEFAULT_PROFILES: readonly SkipProfile[] = [];
