#!/bin/sh
# Re-creates data/raw/matrice-raw.tar.xz from a copy of shared/data-raw (the subset the builder
# needs: 14 languages, the relations that have mParaRel patterns) and refreshes the licence files
# next to it. Deterministic: the same input gives the same archive bytes.
#   sh data/raw/vendor.sh ../shared/data-raw
set -eu
SRC=${1:?usage: sh data/raw/vendor.sh PATH/TO/data-raw}
HERE=$(cd "$(dirname "$0")" && pwd)
LANGS="ar de en es fi fr hu id ja ko ru tr vi zh-hans"
SKIP_RELS="P31 P527 P1001"          # no mParaRel patterns: never usable with >= 2 templates
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
list="$TMP/files"
(
    cd "$SRC"
    for f in SOURCES.md mpararel/LICENSE-NOTE.md mpararel/README.upstream.md; do echo "$f"; done
    for l in $LANGS; do
        ls mpararel/patterns/$l/P*.jsonl
        ls mpararel/tuples/$l/P*.jsonl
    done
    find pararel mlama1.1-templates heng840-dataset mlama1.1-zh-triples -type f
) | while read -r f; do
    skip=0
    for r in $SKIP_RELS; do
        case "$f" in */$r.jsonl | */$r/*) skip=1 ;; esac
    done
    [ $skip -eq 0 ] && echo "$f"
done | LC_ALL=C sort >"$list"
# MANIFEST.tsv restricted to the files kept (header + rows)
mkdir -p "$TMP/tree"
( cd "$SRC" && tar -cf - -T "$list" ) | ( cd "$TMP/tree" && tar -xf - )
awk -F'\t' 'NR == FNR { keep[$0] = 1; next } FNR == 1 || ($1 in keep)' "$list" "$SRC/MANIFEST.tsv" >"$TMP/tree/MANIFEST.tsv"
echo MANIFEST.tsv >>"$list"
LC_ALL=C sort -o "$list" "$list"
( cd "$TMP/tree" && tar --format=ustar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
      --mode=a+r,u+w,go-w -cf - -T "$list" ) | xz -9e -T1 >"$HERE/matrice-raw.tar.xz"
mkdir -p "$HERE/licenses"
cp "$SRC/pararel/LICENSE" "$HERE/licenses/pararel-LICENSE"
cp "$SRC/mlama1.1-templates/LICENSE" "$HERE/licenses/mlama-LICENSE"
cp "$SRC/mpararel/LICENSE-NOTE.md" "$HERE/licenses/mpararel-LICENSE-NOTE.md"
cp "$SRC/heng840-dataset/LICENSE-NOTE.md" "$HERE/licenses/heng840-LICENSE-NOTE.md"
cp "$SRC/mlama1.1-templates/LICENSE-NOTE.md" "$HERE/licenses/mlama-templates-LICENSE-NOTE.md"
cp "$SRC/mlama1.1-zh-triples/LICENSE-NOTE.md" "$HERE/licenses/mlama-zh-triples-LICENSE-NOTE.md"
cp "$SRC/SOURCES.md" "$HERE/SOURCES.upstream.md"
chmod 644 "$HERE"/licenses/* "$HERE/SOURCES.upstream.md"
n=$(wc -l <"$list")
echo "data/raw/matrice-raw.tar.xz: $n files, $(wc -c <"$HERE/matrice-raw.tar.xz") bytes"
