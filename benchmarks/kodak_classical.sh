#!/usr/bin/env bash
# Rebuild results/kodak (classical codecs on Kodak), the BD-rate table and the R-D plots of
# docs/results.md. About an hour on 2 CPU cores (MS-SSIM dominates). One process, so that
# the encoders' times are not shared with a second run.
#
#   bash benchmarks/kodak_classical.sh [KODAK_DIR] [REFERENCE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
kodak=${1:-../shared/data/kodak}
reference=${2:-../shared/reference}
out=results/kodak

jaxlic bench-codecs "$kodak" -o "$out" --no-progress

jaxlic bd-rate "$reference/kodak_vtm-9.1.json" "$reference" "$out"
jaxlic bd-rate "$out/hevc.json" "$out" --metric ms-ssim
jaxlic plot "$out" --anchors "$reference" -o docs/img/kodak --max-bpp 2.1 \
    --title "Kodak (24 images), RGB"
