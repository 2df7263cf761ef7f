#!/bin/sh
# demo.sh — `make demo`: trains models/fashion_cnn.ini on Fashion-MNIST into
# runs/fashion_cnn/, draws the first convolution's filters and what each
# convolution makes of a test image, and says where the files are.
set -e
BUILD=${BUILD:-build}
MODEL=${MODEL:-models/fashion_cnn.ini}
OUT=${OUT:-runs/$(basename "$MODEL" .ini)}
INDEX=${INDEX:-0}
EPOCHS=${EPOCHS:-}   # empty: the model file's own (10); EPOCHS=1 for a quick look
DEEPC="$BUILD/deepc"
# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning
# threads steal the core their partner needs (see README, "Threads").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[ -x "$DEEPC" ] || { echo "demo: $DEEPC is missing (run make first)" >&2; exit 1; }
start=$(date +%s)
# shellcheck disable=SC2086
"$DEEPC" train "$MODEL" --out "$OUT" ${EPOCHS:+--epochs $EPOCHS}
trained=$(date +%s)
echo
echo "Filters and feature maps for test image $INDEX:"
"$DEEPC" visualize "$OUT/model.safetensors" --index "$INDEX" --out "$OUT"
echo
"$DEEPC" predict "$OUT/model.safetensors" --index "$INDEX" --top 3
end=$(date +%s)
echo
echo "demo: trained in $((trained - start))s, $((end - start))s in all. Files in $OUT/:"
# and feature_maps_<layer>.png, one per convolution, named by the model's layers
for f in "$OUT/model.safetensors" "$OUT/history.csv" "$OUT/curves.png" "$OUT/filters.png" \
         "$OUT/feature_maps.png" "$OUT"/feature_maps_*.png; do
    if [ -e "$f" ]; then echo "  $f"; fi
done
