import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchReport } from '../types.js';
import { renderMarkdown } from './markdown.js';
import { renderSvg } from './svg.js';

export interface WrittenReport {
  readonly json: string;
  readonly markdown: string;
  readonly svg: string;
  readonly markdownText: string;
}

/** Writes DIR/<scenario>.json, .md and .svg. */
export async function writeReport(dir: string, report: BenchReport): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, report.scenario);
  const markdownText = renderMarkdown(report);
  const files = { json: `${base}.json`, markdown: `${base}.md`, svg: `${base}.svg` };
  await Promise.all([
    writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`),
    writeFile(files.markdown, markdownText),
    writeFile(files.svg, renderSvg(report)),
  ]);
  return { ...files, markdownText };
}
