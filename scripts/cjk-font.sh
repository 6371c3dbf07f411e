#!/usr/bin/env bash
# Make sure a CJK font is installed, so charts draw Chinese model names (not empty boxes) and
# the chart font test runs instead of skipping. Debian's fonts-wqy-microhei: 1.6 MB, one
# apt-get, a few seconds; any installed CJK font will do (fonts-noto-cjk is nicer and 56 MB,
# the container image may prefer it). Needs root and apt-get; otherwise it only says so.
set -euo pipefail
for font in /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
            /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
            /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
            /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf; do
  if [ -e "$font" ]; then
    exit 0
  fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "rankbot: installing a CJK font for charts (fonts-wqy-microhei)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    fonts-wqy-microhei >/dev/null
else
  echo "rankbot: no CJK font installed; charts draw Chinese names as model ids" \
    "(as root: apt-get install fonts-wqy-microhei)" >&2
fi
