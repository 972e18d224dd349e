/**
 * The one naming of a plan's tail as a KServe v2 / Triton model, shared by `carboncp export
 * triton` (its repository directories) and the server (POST /v2/models/{name}/infer, and the
 * model it forwards to with a tail backend): the 'server' plan, whose tail is the whole model, is
 * the model under its own name; a split plan's tail is `<model>.tail.<planId>`.
 */
import type { Plan } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ServedModel } from '../model-registry.js';

/** The infix of a split plan's tail name. */
export const TAIL_INFIX = '.tail.';

export function tailModelName(modelName: string, plan: Pick<Plan, 'id' | 'kind'>): string {
  return plan.kind === 'server' ? modelName : `${modelName}${TAIL_INFIX}${plan.id}`;
}

/**
 * Triton takes a model's name from its directory in the repository, and clients put it in the
 * URL path unescaped: names are kept to characters safe in both (letters, digits, '_', '-', '.'),
 * not starting with '.'. Returns the name; throws CARBONCP_INVALID_ARGUMENT otherwise.
 */
export function checkTritonModelName(name: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name) || name.length > 200) {
    throw new CarboncpError(
      ErrorCode.INVALID_ARGUMENT,
      `'${name.slice(0, 80)}' cannot name a Triton model: use letters, digits, '_', '-' and '.' (not first), at most 200 characters (rename the .onnx file)`,
    );
  }
  return name;
}

/** What a KServe model name stands for on this server. */
export interface KserveTarget {
  model: ServedModel;
  plan: Plan;
}

/**
 * Every KServe model name a server answers to: each model's 'server' plan under its own name
 * and each split plan under its tail name. Throws CARBONCP_INVALID_ARGUMENT when two would
 * share a name (a model file named like another model's tail).
 */
export function kserveTargets(models: ReadonlyMap<string, ServedModel>): Map<string, KserveTarget> {
  const targets = new Map<string, KserveTarget>();
  for (const model of models.values()) {
    for (const plan of model.servable.values()) {
      const name = tailModelName(model.name, plan);
      const taken = targets.get(name);
      if (taken) {
        throw new CarboncpError(
          ErrorCode.INVALID_ARGUMENT,
          `the KServe model name '${name}' would stand for both ${taken.model.name}/${taken.plan.id} and ${model.name}/${plan.id}; rename one model file`,
        );
      }
      targets.set(name, { model, plan });
    }
  }
  return targets;
}
