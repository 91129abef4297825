#!/usr/bin/env bash
# Rebuild results/kodak (classical codecs on Kodak), the BD-rate table and the R-D plots of
# docs/results.md. About an hour on 2 CPU cores (MS-SSIM dominates); two processes at once.
#
#   bash benchmarks/kodak_classical.sh [KODAK_DIR] [REFERENCE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
kodak=${1:-../shared/data/kodak}
reference=${2:-../shared/reference}
out=results/kodak

jaxlic bench-codecs "$kodak" --codecs jpeg webp jpeg2000 avif -o "$out" --no-progress &
jaxlic bench-codecs "$kodak" --codecs hevc jpegxl -o "$out" --no-progress &
wait

jaxlic bd-rate "$reference/kodak_vtm-9.1.json" "$reference" "$out"
jaxlic bd-rate "$out/hevc.json" "$out" --metric ms-ssim
jaxlic plot "$out" --anchors "$reference" -o docs/img/kodak --max-bpp 2.1 \
    --title "Kodak (24 images), RGB"
