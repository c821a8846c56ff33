// The benchmark's table: one row per figure with plainchat's value, the baseline's, their ratio, the
// target if the figure has one, and whether plainchat meets it.

export interface Target {
  text: string;
  isMet(plainchat: number, ratio: number): boolean;
}

export const ratioAtLeast = (v: number): Target => ({ text: `ratio >= ${v}`, isMet: (_, ratio) => ratio >= v });
export const ratioAtMost = (v: number): Target => ({ text: `ratio <= ${v}`, isMet: (_, ratio) => ratio <= v });
export const plainchatAtMost = (v: number): Target => ({ text: `plainchat <= ${v}`, isMet: (p) => p <= v });
export const plainchatBelow = (v: number): Target => ({ text: `plainchat < ${v}`, isMet: (p) => p < v });
export const plainchatIsYes: Target = { text: 'plainchat yes', isMet: (p) => p === 1 };

export function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

export interface Row {
  plainchat: number | string;
  baseline: number | string;
  /** plainchat / baseline; empty where it means nothing (yes/no, or a baseline of 0). */
  ratio: number | string;
  target: string;
  met: string;
}

/** Rows keyed by figure, as `console.table` prints them with the figure as the index. */
export class Comparison {
  readonly rows: Record<string, Row> = {};

  /** Adds a figure; a NaN (a measurement that did not finish) never meets its target. */
  add(figure: string, plainchat: number | boolean, baseline: number | boolean, target?: Target): void {
    const isYesNo = typeof plainchat === 'boolean';
    const p = Number(plainchat);
    const ratio = isYesNo ? NaN : round(p / Number(baseline));
    this.rows[figure] = {
      plainchat: isYesNo ? (plainchat ? 'yes' : 'no') : p,
      baseline: isYesNo ? (baseline ? 'yes' : 'no') : Number(baseline),
      ratio: Number.isFinite(ratio) ? ratio : '',
      target: target?.text ?? '',
      met: target ? (target.isMet(p, ratio) ? 'yes' : 'NO') : '',
    };
  }
}
