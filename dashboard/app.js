// pullpush dashboard: a player on the origin's live playlist (hls.js, or
// dash.js on the DASH endpoint) with Live / Start over / −60 s, the relay's
// fetchers from the REST API, the origin's ingest status per input, and a
// harvest (live-to-VOD) of the last minute.
'use strict';

(function () {
  const HLS_URL = document.body.dataset.playback;
  const DASH_URL = document.body.dataset.dash || '';
  const FETCHERS = document.body.dataset.fetchers || '';
  const INGEST = document.body.dataset.ingest || '';
  const HARVEST = document.body.dataset.harvest || '';
  const REFRESH_MS = 2000;
  const BACK_S = 60;
  const STARTOVER_S = 5 * 60;
  // Where a time-shifted window starts playing (s). Not 0: hls.js aligns
  // the demuxed audio playlist to the video one by PROGRAM-DATE-TIME, and
  // when the first audio segment starts a few ms after the first video
  // segment, a start position before it makes hls.js 1.5 start the audio
  // at the live edge and wait there forever for video.
  const SHIFT_START_S = 1;

  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const player = $('player');
  const modeBadge = $('mode');
  const statusLine = $('player-status');
  const playingURL = $('playing-url');

  // Server clock minus browser clock (ms), from the API's Date header, so
  // time-shift requests use the origin's notion of "now".
  let serverOffset = 0;
  const serverNow = () => Date.now() + serverOffset;

  // ---- player --------------------------------------------------------

  let hls = null;
  let dash = null;
  // format is 'hls' or 'dash': which endpoint (and player) plays.
  let format = 'hls';
  const playback = () => (format === 'dash' ? DASH_URL : HLS_URL);
  let current = { url: HLS_URL, mode: 'live' };
  let retryTimer = 0;

  const MODES = { live: 'LIVE', startover: 'START OVER', shift: 'TIME-SHIFT' };

  // withStart returns the playback URL time-shifted to start at epoch ms t.
  function withStart(t) {
    const u = new URL(playback(), location.href);
    u.searchParams.set('start', String(Math.floor(t / 1000)));
    return u.origin === location.origin ? u.pathname + u.search : u.href;
  }

  function load(url, mode) {
    clearTimeout(retryTimer);
    if (hls) {
      hls.destroy();
      hls = null;
    }
    if (dash) {
      dash.reset();
      dash = null;
    }
    current = { url: url, mode: mode };
    player.dataset.mode = mode;
    modeBadge.textContent = MODES[mode];
    modeBadge.className = 'badge ' + mode;
    playingURL.href = url;
    playingURL.textContent = new URL(url, location.href).href;
    setStatus('loading', 'loading…');
    player.dataset.format = format;
    if (format === 'dash') {
      loadDASH(url, mode);
    } else if (window.Hls && window.Hls.isSupported()) {
      // Live starts near the live edge; time-shifted windows near their start.
      hls = new window.Hls({ startPosition: mode === 'live' ? -1 : SHIFT_START_S, backBufferLength: 90 });
      hls.on(window.Hls.Events.ERROR, onError);
      hls.on(window.Hls.Events.MANIFEST_PARSED, play);
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url; // Safari plays HLS natively
      play();
    } else {
      setStatus('error', 'this browser cannot play HLS (no Media Source Extensions)');
    }
  }

  // loadDASH plays an MPD with dash.js: live at the live edge, a
  // time-shifted window from its start.
  function loadDASH(url, mode) {
    if (!window.dashjs || !window.MediaSource) {
      setStatus('error', 'this browser cannot play DASH (no Media Source Extensions)');
      return;
    }
    const p = window.dashjs.MediaPlayer().create();
    dash = p;
    p.updateSettings({ debug: { logLevel: window.dashjs.Debug.LOG_LEVEL_WARNING } });
    p.on(window.dashjs.MediaPlayer.events.ERROR, (e) => {
      if (dash !== p) {
        return;
      }
      const what = (e.error && (e.error.message || e.error.code)) || 'error';
      setStatus('waiting', 'waiting for the origin (' + what + '), retrying…');
      const again = current;
      p.reset();
      dash = null;
      retryTimer = setTimeout(() => load(again.url, again.mode), 1500);
    });
    p.on(window.dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
      if (mode !== 'live' && dash === p) {
        // Seek times of a live stream count from the start of its window.
        p.seek(SHIFT_START_S);
      }
      play();
    });
    p.initialize(video, url, true);
  }

  function play() {
    const p = video.play();
    if (p && p.catch) {
      p.catch(() => setStatus('paused', 'press play (the browser blocked autoplay)'));
    }
  }

  function onError(_event, data) {
    if (!data.fatal) {
      return;
    }
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    // Typically the origin has no segments yet (the relay is starting):
    // try again shortly.
    const what = data.response && data.response.code ? 'HTTP ' + data.response.code : data.details;
    setStatus('waiting', 'waiting for the origin (' + what + '), retrying…');
    const again = current;
    hls.destroy();
    hls = null;
    retryTimer = setTimeout(() => load(again.url, again.mode), 1500);
  }

  // position returns the wall-clock time (epoch ms) being shown, from the
  // segments' PROGRAM-DATE-TIME, or NaN.
  function position() {
    if (dash) {
      const t = dash.isReady() ? dash.timeAsUTC() : NaN;
      return t > 0 ? t * 1000 : NaN;
    }
    const d = hls && hls.playingDate;
    return d ? d.getTime() : NaN;
  }

  function goLive() {
    load(playback(), 'live');
  }

  // setFormat switches the player between the HLS and the DASH endpoint,
  // keeping the mode: live stays live, a time-shift resumes at the
  // position being shown.
  function setFormat(f) {
    if (f === format || (f === 'dash' && !DASH_URL)) {
      return;
    }
    const pos = position();
    format = f;
    for (const b of document.querySelectorAll('[data-format-button]')) {
      b.setAttribute('aria-pressed', String(b.dataset.formatButton === f));
    }
    if (current.mode === 'live' || isNaN(pos)) {
      goLive();
    } else {
      load(withStart(pos), current.mode);
    }
  }

  function startOver() {
    // The origin answers from its oldest segment when start is earlier.
    load(withStart(serverNow() - STARTOVER_S * 1000), 'startover');
  }

  function back() {
    const s = video.seekable;
    // In a growing time-shift window a plain seek works; the live window
    // slides, so there we reload with a start 60 s before the position.
    if (current.mode !== 'live' && s.length > 0 && video.currentTime - BACK_S >= s.start(0)) {
      video.currentTime -= BACK_S;
      play();
      return;
    }
    let pos = position();
    if (isNaN(pos)) {
      pos = serverNow();
    }
    load(withStart(pos - BACK_S * 1000), 'shift');
  }

  function setStatus(state, text) {
    player.dataset.state = state;
    statusLine.textContent = text;
  }

  // Stall watchdog: a player that has not advanced for STALL_MS although
  // it should play (e.g. it opened the origin while it was starting) loads
  // the same URL again.
  const STALL_MS = 12000;
  let lastTime = -1;
  let lastProgress = Date.now();

  function watchdog() {
    if (video.currentTime !== lastTime || video.paused || player.dataset.state === 'waiting') {
      lastTime = video.currentTime;
      lastProgress = Date.now();
      return;
    }
    if (Date.now() - lastProgress > STALL_MS) {
      lastProgress = Date.now();
      load(current.url, current.mode);
    }
  }

  function updateStatus() {
    watchdog();
    if (player.dataset.state === 'waiting' || player.dataset.state === 'error') {
      return;
    }
    let state = 'playing';
    if (video.error) {
      state = 'error';
    } else if (video.paused) {
      state = video.currentTime > 0 ? 'paused' : 'loading';
    } else if (video.readyState < 3) {
      state = 'buffering';
    }
    const parts = [state];
    const pos = position();
    delete player.dataset.behind;
    if (!isNaN(pos)) {
      parts.push(new Date(pos).toLocaleTimeString());
      const behind = (serverNow() - pos) / 1000;
      player.dataset.behind = behind.toFixed(1);
      // Glass to glass: the playing PROGRAM-DATE-TIME against the clock;
      // tenths below 10 s, where low-latency HLS plays.
      parts.push(behind < 10 ? Math.max(behind, 0).toFixed(1) + ' s behind real time' : fmtDuration(behind) + ' behind real time');
    }
    const level = hls && hls.levels && hls.levels[hls.currentLevel];
    if (level && level.details && level.details.partList && level.details.partList.length) {
      parts.push('low-latency HLS');
    }
    setStatus(state, parts.join(' · '));
  }

  function fmtDuration(s) {
    s = Math.round(s);
    if (s < 60) {
      return s + ' s';
    }
    const m = Math.floor(s / 60);
    return m + ' min ' + (s % 60) + ' s';
  }

  // Show the listed links in full, to copy into another player.
  for (const a of document.querySelectorAll('.links a')) {
    a.textContent = a.href;
  }

  $('btn-live').addEventListener('click', goLive);
  $('btn-startover').addEventListener('click', startOver);
  $('btn-back').addEventListener('click', back);
  for (const b of document.querySelectorAll('[data-format-button]')) {
    b.addEventListener('click', () => setFormat(b.dataset.formatButton));
  }
  video.addEventListener('playing', updateStatus);
  video.addEventListener('waiting', updateStatus);
  setInterval(updateStatus, 500);

  // ---- fetchers ------------------------------------------------------

  const tbody = document.querySelector('#fetchers tbody');
  const updated = $('fetchers-updated');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  // shortTarget drops scheme and host from a target name such as
  // "ingest[0] http://host/in/v2/1/a/channel".
  function shortTarget(name) {
    return name.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^/\s]+/gi, '');
  }

  function row(f) {
    const tr = el('tr');
    const name = el('td');
    name.append(el('div', 'name', f.name), el('div', 'muted url', f.url));
    tr.append(name);
    const state = el('td');
    state.append(el('span', 'state ' + f.state, f.state));
    tr.append(state);
    tr.append(el('td', 'num', typeof f.lagSeconds === 'number' ? f.lagSeconds.toFixed(1) + ' s' : '–'));
    const pushed = el('td');
    const targets = f.targets || [];
    if (targets.length === 0) {
      pushed.append(el('div', 'num', String(f.segmentsPushed || 0)));
    }
    for (const t of targets) {
      const line = el('div', 'target');
      line.title = t.name;
      line.append(el('span', 'muted', shortTarget(t.name) + ' '), el('strong', '', String(t.segmentsPushed)));
      if (t.pending > 0) {
        line.append(el('span', 'muted', ' (' + t.pending + ' pending)'));
      }
      pushed.append(line);
    }
    tr.append(pushed);
    const errs = [];
    if (f.lastError) {
      errs.push(f.lastError);
    }
    for (const t of targets) {
      if (t.lastError) {
        errs.push(shortTarget(t.name) + ': ' + t.lastError);
      }
    }
    const err = el('td', errs.length ? 'error' : 'muted', errs.length ? errs.join('\n') : 'none');
    tr.append(err);
    return tr;
  }

  async function refresh() {
    try {
      const resp = await fetch(FETCHERS, { cache: 'no-store', headers: { Accept: 'application/json' } });
      const date = Date.parse(resp.headers.get('Date') || '');
      if (!isNaN(date) && Math.abs(date - Date.now() - serverOffset) > 2000) {
        serverOffset = date - Date.now();
      }
      if (!resp.ok) {
        throw new Error('HTTP ' + resp.status);
      }
      const list = await resp.json();
      const rows = list.map(row);
      if (rows.length === 0) {
        const tr = el('tr');
        const td = el('td', 'muted', 'no fetchers');
        td.colSpan = 5;
        tr.append(td);
        rows.push(tr);
      }
      tbody.replaceChildren(...rows);
      updated.textContent = 'updated ' + new Date().toLocaleTimeString();
      updated.className = '';
    } catch (e) {
      updated.textContent = 'cannot reach the API: ' + e.message;
      updated.className = 'error';
    }
  }

  // ---- origin ingest ---------------------------------------------------

  const ingestBody = document.querySelector('#ingest tbody');
  const ingestUpdated = $('ingest-updated');

  function ingestRow(ch, input) {
    const tr = el('tr');
    tr.append(el('td', 'name', input.name));
    const state = el('td');
    state.append(el('span', 'state ' + (input.active ? 'running' : 'standby'), input.active ? 'active' : 'standby'));
    tr.append(state);
    const last = input.lastSegment ? Date.parse(input.lastSegment) : NaN;
    tr.append(el('td', 'num', isNaN(last) ? 'never' : fmtDuration(Math.max(0, (serverNow() - last) / 1000)) + ' ago'));
    tr.append(el('td', 'num', String(ch.switches)));
    return tr;
  }

  async function refreshIngest() {
    try {
      const resp = await fetch(INGEST, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!resp.ok) {
        throw new Error('HTTP ' + resp.status);
      }
      const ch = await resp.json();
      const rows = (ch.inputs || []).map((i) => ingestRow(ch, i));
      if (rows.length === 0) {
        const tr = el('tr');
        const td = el('td', 'muted', 'no input has delivered yet');
        td.colSpan = 4;
        tr.append(td);
        rows.push(tr);
      }
      ingestBody.replaceChildren(...rows);
      const segs = (ch.renditions || []).map((r) => r.name + ' ' + r.segments).join(', ');
      ingestUpdated.textContent = 'updated ' + new Date().toLocaleTimeString() + (segs ? ' · segments retained: ' + segs : '');
      ingestUpdated.className = '';
    } catch (e) {
      ingestUpdated.textContent = 'cannot reach the origin API: ' + e.message;
      ingestUpdated.className = 'error';
    }
  }

  // ---- harvest -------------------------------------------------------

  const harvestButton = $('btn-harvest');
  const harvestStatus = $('harvest-status');

  async function harvest() {
    harvestButton.disabled = true;
    harvestStatus.className = 'muted';
    harvestStatus.textContent = 'submitting…';
    try {
      const resp = await fetch(HARVEST, { method: 'POST', headers: { Accept: 'application/json' } });
      const job = await resp.json();
      if (!resp.ok) {
        throw new Error(job.error || 'HTTP ' + resp.status);
      }
      for (;;) {
        const r = await fetch(job.status, { cache: 'no-store', headers: { Accept: 'application/json' } });
        const st = await r.json();
        if (!r.ok) {
          throw new Error(st.error || 'HTTP ' + r.status);
        }
        if (st.state === 'failed') {
          throw new Error(st.reason || 'failed');
        }
        if (st.state === 'succeeded') {
          const a = el('a', '', new URL(job.play, location.href).href);
          a.href = job.play;
          harvestStatus.className = '';
          harvestStatus.replaceChildren('VOD asset (' + st.files + ' files): ', a);
          break;
        }
        harvestStatus.textContent = st.state + ' ' + Math.round(100 * (st.progress || 0)) + ' %';
        await new Promise((ok) => setTimeout(ok, 500));
      }
    } catch (e) {
      harvestStatus.className = 'error';
      harvestStatus.textContent = 'harvest failed: ' + e.message;
    } finally {
      harvestButton.disabled = false;
    }
  }
  if (harvestButton) {
    harvestButton.addEventListener('click', harvest);
  }

  if (FETCHERS) {
    refresh();
    setInterval(refresh, REFRESH_MS);
  }
  if (INGEST) {
    refreshIngest();
    setInterval(refreshIngest, REFRESH_MS);
  }
  goLive();
})();
