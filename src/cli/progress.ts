// A one-line progress bar on stderr (only when stderr is a terminal; otherwise silent).

export function progressBar(label: string): { update(fraction: number, stage?: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return {
    update(fraction: number, stage?: string) {
      if (!tty) return;
      const percent = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      if (percent === last) return;
      last = percent;
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      process.stderr.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${String(percent).padStart(3)}%${stage ? ` ${stage}` : ""}\x1b[K`);
    },
    done() {
      if (tty && last >= 0) process.stderr.write("\r\x1b[K");
    },
  };
}
