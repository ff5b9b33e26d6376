#!/bin/sh
# gen.sh regenerates the bundled VOD assets of the default channel "1" and
# the slates. Run it from anywhere: sh channel/assets/gen.sh
#
# Output (committed, embedded into the binary by package channel):
#   a/ b/ c/        three ~30 s assets, each with two H.264 video renditions
#                   (320x180, 640x360), demuxed AAC audio and WebVTT subtitles,
#                   2 s MPEG-TS segments, visibly and audibly different
#   slate/          a 6 s slate with the same ladder (MPEG-TS)
#   slate-fmp4/     the same slate as fragmented MP4 (for CMAF channels)
#
# All flags are fixed (single-threaded x264, bitexact muxing, no encoder SEI)
# so a given ffmpeg build reproduces the same bytes.
set -eu

cd "$(dirname "$0")"
command -v ffmpeg >/dev/null || { echo "gen.sh: ffmpeg not found" >&2; exit 1; }

FONT=${FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf}
if ffmpeg -hide_banner -filters 2>/dev/null | grep -q ' drawtext ' && [ -f "$FONT" ]; then
	HAVE_TEXT=1
else
	HAVE_TEXT=0
	echo "gen.sh: drawtext or $FONT unavailable; assets get no burnt-in titles" >&2
fi

DUR=30      # asset duration, seconds
SEG=2       # segment duration, seconds
FPS=15
GOP=$((FPS * SEG))

# title TEXT SIZE: drawtext filters for a big centred title and a running clock.
title() {
	if [ "$HAVE_TEXT" = 1 ]; then
		printf ",drawtext=fontfile=%s:text='%s':fontsize=%s:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=(h-th)/2-%s" \
			"$FONT" "$1" "$2" "$(($2 / 2))"
		printf ",drawtext=fontfile=%s:text='%%{pts\\\\:hms}':fontsize=%s:fontcolor=yellow:x=(w-tw)/2:y=h/2+%s" \
			"$FONT" "$(($2 / 2))" "$(($2 / 2))"
	fi
}

# video SRC W H TEXT MAXRATE OUTDIR [fmp4]
video() {
	src=$1 w=$2 h=$3 text=$4 rate=$5 out=$6 kind=${7:-ts}
	mkdir -p "$out"
	size=$((h / 5))
	box=$((h / 9))
	filter="$src:s=${w}x${h}:r=$FPS:d=$DUR,drawbox=x='mod(t*$((w / 6))\\,$((w - box)))':y=$((h - box - 4)):w=$box:h=$box:c=white:t=fill$(title "$text" "$size")"
	if [ "$kind" = fmp4 ]; then
		seg="-hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename $out/%d.m4s"
	else
		seg="-hls_segment_filename $out/%d.ts"
	fi
	# shellcheck disable=SC2086
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$filter" \
		-c:v libx264 -threads 1 -profile:v main -level 3.0 -preset veryslow -crf 32 \
		-maxrate "$rate" -bufsize "$rate" -g $GOP -keyint_min $GOP -sc_threshold 0 -pix_fmt yuv420p \
		-bsf:v filter_units=remove_types=6 -an \
		-fflags +bitexact -flags:v +bitexact -map_metadata -1 \
		-f hls -hls_time $SEG -hls_playlist_type vod -hls_flags independent_segments $seg "$out/index.m3u8"
}

# audio SRC OUTDIR [fmp4]
audio() {
	src=$1 out=$2 kind=${3:-ts}
	mkdir -p "$out"
	if [ "$kind" = fmp4 ]; then
		seg="-hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename $out/%d.m4s"
	else
		seg="-hls_segment_filename $out/%d.ts"
	fi
	# shellcheck disable=SC2086
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$src:sample_rate=48000:d=$DUR" \
		-c:a aac -b:a 32k -ac 1 -fflags +bitexact -flags:a +bitexact -map_metadata -1 \
		-f hls -hls_time $SEG -hls_playlist_type vod $seg "$out/index.m3u8"
}

# subs TEXT OUTDIR [fmp4]: one WebVTT segment per video segment, mapped to
# the media start time ffmpeg uses (MPEG-TS: 1.4 s = 126000 ticks; fMP4: 0).
subs() {
	text=$1 out=$2 tsmap=126000
	[ "${3:-ts}" = fmp4 ] && tsmap=0
	mkdir -p "$out"
	n=$((DUR / SEG))
	{
		printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n' $SEG
		i=0
		while [ $i -lt $n ]; do
			printf '#EXTINF:%d.000000,\n%d.vtt\n' $SEG $i
			i=$((i + 1))
		done
		printf '#EXT-X-ENDLIST\n'
	} >"$out/index.m3u8"
	i=0
	while [ $i -lt $n ]; do
		s=$((i * SEG))
		e=$((s + SEG))
		printf 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n\n00:00:%02d.000 --> 00:00:%02d.000\n%s - %02d s\n' \
			"$tsmap" $s $e "$text" $s >"$out/$i.vtt"
		i=$((i + 1))
	done
}

# peak BANDWIDTH of a rendition from its largest segment (bits per second).
peak() {
	max=$(ls -l "$1"/*.ts "$1"/*.m4s 2>/dev/null | awk '{ if ($5 > m) m = $5 } END { print m + 0 }')
	echo $((max * 8 / SEG))
}

# master DIR [fmp4]
master() {
	dir=$1
	a=$(peak "$dir/aud")
	b0=$(($(peak "$dir/v0") + a))
	b1=$(($(peak "$dir/v1") + a))
	cat >"$dir/master.m3u8" <<EOM
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="1",URI="aud/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="sub",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="sub/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=$b0,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=15.000,AUDIO="aud",SUBTITLES="sub"
v0/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=$b1,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=15.000,AUDIO="aud",SUBTITLES="sub"
v1/index.m3u8
EOM
}

# asset DIR VSRC ASRC TITLE [fmp4]
asset() {
	dir=$1 vsrc=$2 asrc=$3 text=$4 kind=${5:-ts}
	rm -rf "$dir"
	video "$vsrc" 320 180 "$text" 60k "$dir/v0" "$kind"
	video "$vsrc" 640 360 "$text" 120k "$dir/v1" "$kind"
	audio "$asrc" "$dir/aud" "$kind"
	subs "$text" "$dir/sub" "$kind"
	master "$dir"
}

asset a "color=c=0x1f3a93" "sine=frequency=440:beep_factor=4" "ASSET A"
asset b "smptebars=sar=1" "sine=frequency=660:beep_factor=2" "ASSET B"
asset c "color=c=0x7b1e1e" "sine=frequency=880:beep_factor=8" "ASSET C"
DUR=6
asset slate "color=c=0x404040" "sine=frequency=220" "SLATE"
asset slate-fmp4 "color=c=0x404040" "sine=frequency=220" "SLATE" fmp4
du -sh a b c slate slate-fmp4
