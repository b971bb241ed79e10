/**
 * Where an export's file is: `<data folder>/exports/<project>/<export id>.<format>`. Every process
 * that writes (worker), serves (api) or deletes (scheduler) exports must see the same data folder:
 * one process in role `all`, or a volume the roles share (docs/exports.md).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExportFormat } from '../domain/exports/encode.js';

export const exportsDirIn = (dataDir: string): string => join(dataDir, 'exports');

export const exportFilePath = (exportsDir: string, e: { id: string; project_id: string; format: ExportFormat }): string =>
  join(exportsDir, e.project_id, `${e.id}.${e.format}`);

export async function deleteExportFile(exportsDir: string, e: { id: string; project_id: string; format: ExportFormat }): Promise<void> {
  await rm(exportFilePath(exportsDir, e), { force: true });
}
