// The commit a result was produced with, read from .git without running git (so it works where git is absent).
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is src/cli/git.ts, or dist/cli/git.js once built). */
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function readGitDir(dir: string): string | undefined {
  const dotGit = join(dir, ".git");
  if (!existsSync(dotGit)) return undefined;
  if (statSync(dotGit).isDirectory()) return dotGit;
  const pointer = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8")); // a worktree or submodule
  return pointer === null ? undefined : resolve(dir, pointer[1]!.trim());
}

/**
 * The commit checked out in the repository holding `start` (walking up), read from .git/HEAD, the ref file or
 * packed-refs; "unknown" when there is none. Uncommitted changes are not detected.
 */
export function gitCommit(start: string = REPO_ROOT): string {
  try {
    let dir = resolve(start);
    let gitDir: string | undefined;
    while (true) {
      gitDir = readGitDir(dir);
      if (gitDir !== undefined || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
    if (gitDir === undefined) return "unknown";
    const head = readFileSync(join(gitDir, "HEAD"), "utf8").trim();
    if (/^[0-9a-f]{40,64}$/.test(head)) return head;
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (ref === undefined) return "unknown";
    // A worktree keeps shared refs in the common dir.
    const common = existsSync(join(gitDir, "commondir")) ? resolve(gitDir, readFileSync(join(gitDir, "commondir"), "utf8").trim()) : gitDir;
    for (const base of [gitDir, common]) {
      const file = join(base, ref);
      if (existsSync(file)) {
        const sha = readFileSync(file, "utf8").trim();
        if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
      }
      const packed = join(base, "packed-refs");
      if (existsSync(packed)) {
        for (const line of readFileSync(packed, "utf8").split("\n")) {
          const [sha, name] = line.trim().split(/\s+/);
          if (name === ref && sha !== undefined && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
        }
      }
    }
    return "unknown";
  } catch {
    return "unknown";
  }
}

