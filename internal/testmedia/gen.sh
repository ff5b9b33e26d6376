#!/usr/bin/env bash
# gen.sh regenerates the committed test media under internal/testmedia/{ts,fmp4}.
#
# Usage: internal/testmedia/gen.sh   (from anywhere; needs ffmpeg and ffprobe)
#
# Layout of each flavour (ts/ and fmp4/):
#   master.m3u8            multivariant playlist (hand-written below)
#   video_hi.m3u8          320x180 H.264 Main, ~150 kbit/s, 25 fps, no audio
#   video_lo.m3u8          160x90  H.264 Main, ~80 kbit/s, 25 fps, no audio
#   audio.m3u8             AAC-LC 48 kHz stereo ~48 kbit/s, audio only
#   subs.m3u8              WebVTT, one cue per segment (hand-written below)
#   <rendition>/seg_<n>.ts|.m4s|.vtt, fmp4 also <rendition>/init.mp4
# Every rendition has 8 segments of ~1 s (video exactly 1 s, a keyframe at the
# start of each; audio 7 x 1.002667 s + 0.981333 s, whole AAC frames).
#
# Each stream is encoded once (single-threaded, bitexact) to an intermediate
# NUT file and then remuxed with -c copy into both flavours, so the TS and fMP4
# sets carry identical elementary streams and share CODECS strings. Output is
# reproducible with the same ffmpeg/x264 build; the burnt-in frame counter
# uses DejaVu Sans Mono when present (else plain testsrc2), so other machines
# may produce different but equivalent bytes.
set -euo pipefail

cd "$(dirname "$0")"
FFMPEG=${FFMPEG:-ffmpeg}
FFPROBE=${FFPROBE:-ffprobe}
FPS=25
DUR=8
SEGS=8
# 8 s of audio minus the AAC encoder priming (1024 samples), so the encoded
# stream is exactly 375 frames = 8.000 s and the segmenter yields 8 segments.
AUDIO_SAMPLES=$((DUR * 48000 - 1024))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

common_out=(-fflags +bitexact -map_metadata -1 -map_chapters -1)

font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
video_src() { # $1=WxH $2=fontsize
	local src="testsrc2=size=$1:rate=$FPS:duration=$DUR"
	if [[ -f $font ]] && "$FFMPEG" -hide_banner -filters 2>/dev/null | grep -q ' drawtext '; then
		src+=",drawtext=fontfile=$font:text='%{frame_num}':x=4:y=4:fontsize=$2:fontcolor=white:box=1:boxcolor=black@0.7"
	fi
	echo "$src"
}

encode_video() { # $1=name $2=WxH $3=kbit/s $4=fontsize
	"$FFMPEG" -hide_banner -loglevel error -y -f lavfi -i "$(video_src "$2" "$4")" \
		-c:v libx264 -preset veryfast -profile:v main -level 3.0 -pix_fmt yuv420p \
		-b:v "${3}k" -maxrate "$(($3 * 12 / 10))k" -bufsize "$(($3 * 2))k" \
		-g $FPS -keyint_min $FPS -sc_threshold 0 -bf 0 -force_key_frames "expr:gte(t,n_forced*1)" \
		-threads 1 -x264-params threads=1:sliced-threads=0 -flags:v +bitexact \
		"${common_out[@]}" "$tmp/$1.nut"
}

encode_audio() {
	"$FFMPEG" -hide_banner -loglevel error -y -f lavfi \
		-i "sine=frequency=440:beep_factor=2:sample_rate=48000,aformat=channel_layouts=mono,pan=stereo|c0=c0|c1=c0,atrim=end_sample=$AUDIO_SAMPLES" \
		-c:a aac -b:a 48k -ac 2 -ar 48000 -flags:a +bitexact \
		"${common_out[@]}" "$tmp/audio.nut"
}

segment() { # $1=flavour $2=name
	local flavour=$1 name=$2 ext=ts extra=()
	if [[ $flavour == fmp4 ]]; then
		ext=m4s
		extra=(-hls_segment_type fmp4 -hls_fmp4_init_filename "$name/init.mp4")
	fi
	mkdir -p "$flavour/$name"
	"$FFMPEG" -hide_banner -loglevel error -y -i "$tmp/$name.nut" -map 0 -c copy \
		"${common_out[@]}" -f hls -hls_time 1 -hls_playlist_type vod -hls_list_size 0 \
		"${extra[@]}" -hls_segment_filename "$flavour/$name/seg_%d.$ext" -hls_base_url "$name/" \
		"$flavour/$name.m3u8"
	local n
	n=$(grep -c '^#EXTINF' "$flavour/$name.m3u8")
	if [[ $n != "$SEGS" ]]; then
		echo "gen.sh: $flavour/$name.m3u8 has $n segments, want $SEGS" >&2
		exit 1
	fi
}

# start_pts prints the first video PTS of a flavour in 90 kHz units.
start_pts() { # $1=flavour
	local f=$1 t
	if [[ $f == fmp4 ]]; then
		t=$(cat "$f/video_hi/init.mp4" "$f/video_hi/seg_0.m4s" | "$FFPROBE" -v error -select_streams v:0 -show_entries stream=start_time -of csv=p=0 -)
	else
		t=$("$FFPROBE" -v error -select_streams v:0 -show_entries stream=start_time -of csv=p=0 "$f/video_hi/seg_0.ts")
	fi
	awk -v t="$t" 'BEGIN { printf "%d", t * 90000 + 0.5 }'
}

write_subs() { # $1=flavour
	local f=$1 mpegts i
	mpegts=$(start_pts "$f")
	mkdir -p "$f/subs"
	{
		printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n'
		for ((i = 0; i < SEGS; i++)); do
			printf '#EXTINF:1.000000,\nsubs/seg_%d.vtt\n' "$i"
			printf 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n\n00:00:%02d.000 --> 00:00:%02d.900\nSegment %d\n' \
				"$mpegts" "$i" "$i" "$i" >"$f/subs/seg_$i.vtt"
		done
		printf '#EXT-X-ENDLIST\n'
	} >"$f/subs.m3u8"
}

# avc_codec prints the RFC 6381 codec string from the avcC box of an init segment.
avc_codec() { # $1=init.mp4
	local off
	off=$(grep -obUa avcC "$1" | head -n1 | cut -d: -f1)
	printf 'avc1.%s' "$(od -An -tx1 -j $((off + 5)) -N3 "$1" | tr -d ' \n')"
}

# bandwidth prints "peak average" in bit/s of a video rendition plus audio:
# peak is the largest per-segment (video+audio) bitrate, average the total.
bandwidth() { # $1=flavour $2=video rendition
	local f=$1 v=$2
	paste <(grep -A1 '^#EXTINF' "$f/$v.m3u8" | grep -v -- '--' | paste - - | sed 's/#EXTINF:\([0-9.]*\),\t/\1 /') \
		<(grep -A1 '^#EXTINF' "$f/audio.m3u8" | grep -v -- '--' | paste - - | sed 's/#EXTINF:\([0-9.]*\),\t/\1 /') |
		while read -r vd vu ad au; do
			echo "$vd $(stat -c %s "$f/$vu") $(stat -c %s "$f/$au")"
		done |
		awk '{ b = ($2 + $3) * 8 / $1; if (b > peak) peak = b; tot += ($2 + $3) * 8; dur += $1 }
		     END { printf "%d %d\n", peak + 0.999, tot / dur + 0.999 }'
}

write_master() { # $1=flavour
	local f=$1 version=3 codec hi_peak hi_avg lo_peak lo_avg
	[[ $f == fmp4 ]] && version=7
	codec=$(avc_codec fmp4/video_hi/init.mp4)
	read -r hi_peak hi_avg < <(bandwidth "$f" video_hi)
	read -r lo_peak lo_avg < <(bandwidth "$f" video_lo)
	cat >"$f/master.m3u8" <<MASTER
#EXTM3U
#EXT-X-VERSION:$version
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=$hi_peak,AVERAGE-BANDWIDTH=$hi_avg,CODECS="$codec,mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=25.000,AUDIO="aud",SUBTITLES="subs"
video_hi.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=$lo_peak,AVERAGE-BANDWIDTH=$lo_avg,CODECS="$codec,mp4a.40.2",RESOLUTION=160x90,FRAME-RATE=25.000,AUDIO="aud",SUBTITLES="subs"
video_lo.m3u8
MASTER
}

encode_video video_hi 320x180 150 20
encode_video video_lo 160x90 80 12
encode_audio

rm -rf ts fmp4
for f in fmp4 ts; do # fmp4 first: its init segment gives the CODECS string
	segment "$f" video_hi
	segment "$f" video_lo
	segment "$f" audio
	write_subs "$f"
	write_master "$f"
done

du -sb ts fmp4
