/**
 * `carboncp serve --family NAME`: a model family of the zoo expands to its variants' model files
 * (generated into the zoo cache on first use) with their input shapes, so that one server holds
 * the tail of every variant a device may choose.
 */
import { basename, extname } from 'node:path';
import { ensureModel, getFamily, getZooModel } from '@carboncp/models';
import type { ServerOptions } from '@carboncp/server';

/** Checks the names now (CARBONCP_UNKNOWN_MODEL lists the families), before anything is generated. */
export function checkFamilies(names: readonly string[]): void {
  for (const name of names) getFamily(name);
}

/**
 * Adds every variant of each family to `options.models`, and its zoo input shapes under its
 * served name (the file name without .onnx, e.g. 'mobilenetv2-0.35.v1') unless --input-shape
 * gave that model its own. Returns the served names, for the log.
 */
export async function addFamilyModels(names: readonly string[], options: ServerOptions): Promise<string[]> {
  const served: string[] = [];
  for (const name of names) {
    for (const variant of getFamily(name).variants) {
      const file = await ensureModel(variant.model);
      if (options.models.includes(file)) continue;
      options.models.push(file);
      const servedName = basename(file, extname(file));
      options.inputShapes ??= {};
      options.inputShapes[servedName] ??= getZooModel(variant.model).inputShapes;
      served.push(servedName);
    }
  }
  return served;
}
