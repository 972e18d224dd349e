import type { NodeProto } from '../onnx/proto.js';

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const attr = node.attribute.find((a) => a.name === name);
  return attr ? Number(attr.i) : fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const attr = node.attribute.find((a) => a.name === name);
  return attr ? attr.ints.map(Number) : undefined;
}

export function stringAttr(node: NodeProto, name: string, fallback: string): string {
  const attr = node.attribute.find((a) => a.name === name);
  return attr ? new TextDecoder().decode(attr.s) : fallback;
}
