#!/usr/bin/env bash
# Measure a variable-rate jaxlic weights file on Kodak with real bitstreams at its eight
# qualities, its BD-rates against VTM-9.1 and every classical codec of results/kodak, and
# redraw the R-D plots of docs/results.md. Run it with nothing else on the machine
# (training paused): the encoding and decoding times go into the results.
#
#   bash benchmarks/kodak_release.sh WEIGHTS NAME [KODAK_DIR] [REFERENCE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
weights=${1:?usage: benchmarks/kodak_release.sh WEIGHTS NAME [KODAK_DIR] [REFERENCE_DIR]}
name=${2:?usage: benchmarks/kodak_release.sh WEIGHTS NAME [KODAK_DIR] [REFERENCE_DIR]}
kodak=${3:-../shared/data/kodak}
reference=${4:-../shared/reference}
out=results/kodak

jaxlic eval "$kodak" "$weights" --name "$name" -o "$out" --no-progress \
    --description "jaxlic $name, variable-rate model, qualities 1-8"

# Each anchor against the jaxlic curve: negative = jaxlic needs fewer bits.
for anchor in "$reference/kodak_vtm-9.1.json" "$out"/{jpeg,webp,jpeg2000,avif,jpegxl,hevc}.json; do
    jaxlic bd-rate "$anchor" "$out/$name.json"
done
jaxlic plot "$out" --anchors "$reference" -o docs/img/kodak --max-bpp 2.1 \
    --title "Kodak (24 images), RGB"
