// Facegate web capture client. It speaks the capture protocol
// (docs/capture-protocol.md): exchange the authorization token for a capture
// token, run the server's challenge per attempt, upload every frame at once,
// finish, and go where the server says. The server decides; this page only
// shows, captures and sends. Tokens live in memory only.
(function () {
  'use strict';

  // The server fills in its lists (crates/api/src/web.rs).
  var LOCALES = /*{{locales}}*/[];
  var RTL_LANGUAGES = ['ar', 'he', 'fa', 'ur'];
  var API = '/api/capture/v1';
  var ASSETS = '/web/v4/assets/';

  // The errorCode values of Jumio's guides, with their meanings there
  // (docs/capture-protocol.md §6 says when this client reports each).
  var E = {
    SERVER: 9100, TOKEN: 9200, SESSION: 9210, UPLOAD: 9300, VERIFICATION: 9400,
    OFFLINE: 9800, CLIENT: 9801, ANSWER: 9810,
    // Camera unavailable: none, not allowed, busy, or it stopped delivering frames.
    CAMERA: 9820,
    // The capture process failed after 3 attempts: the attempts are used up
    // without the server having judged a third capture.
    CAPTURE_FAILED: 9821,
    NO_CAMERA_SUPPORT: 9822,
    // No acceptable submission in 3 attempts: the server judged them all.
    NOT_ACCEPTABLE: 9836
  };
  var ERROR_TEXT = {
    9100: 'error9100', 9200: 'error9200', 9210: 'error9210', 9300: 'error9300',
    9400: 'error9400', 9800: 'error9800', 9801: 'error9801', 9810: 'error9810',
    9820: 'error9820', 9821: 'error9821', 9822: 'error9822', 9835: 'error9836',
    9836: 'error9836'
  };
  var GUIDANCE_TEXT = /*{{guidance}}*/{};
  var STEP_TEXT = { LEFT: 'stepLeft', RIGHT: 'stepRight', UP: 'stepUp', DOWN: 'stepDown' };
  var ARROWS = { LEFT: '\u2190', RIGHT: '\u2192', UP: '\u2191', DOWN: '\u2193' };
  var WHITE = '#ffffff';
  // A frame older than this would reach the server after its 3 s limit (§3):
  // it is dropped before upload instead of being refused.
  var MAX_FRAME_AGE_MS = 2500;
  var CAMERA_START_TIMEOUT_MS = 10000;
  // A camera that shows no new frame for this long during a capture has
  // stopped (a live camera delivers one every few tens of milliseconds).
  var CAMERA_STALL_MS = 3000;
  // The guidance for an attempt of which no frame reached the server.
  var NOTHING_SENT = 'CAMERA_TOO_SLOW';

  // ---- The query: read the token, then take it out of the address bar. ----

  var query = new URLSearchParams(window.location.search);
  var authorizationToken = query.get('authorizationToken') || '';
  if (query.has('authorizationToken')) {
    query.delete('authorizationToken');
    var rest = query.toString();
    window.history.replaceState(null, '',
      window.location.pathname + (rest ? '?' + rest : '') + window.location.hash);
  }

  var state = {
    locale: pickLocale(query.get('locale')),
    captureToken: null,
    transactionReference: null,
    errorUrl: null,
    parentOrigin: null,
    frame: { maxBytes: 524288, maxWidth: 1280, maxHeight: 1280 },
    maxAttempts: 3,
    attemptsUsed: 0,
    stream: null,
    // When the preview last showed a new camera frame (null: not known).
    lastFrameAt: null,
    ended: false,
    running: false,
    lightTimer: null,
    renderHandle: null
  };

  var el = {};
  ['app', 'title', 'frame', 'preview', 'arrow', 'instruction', 'announcer', 'hint', 'panel-ready', 'no-flash',
    'attempt', 'start', 'panel-progress', 'progress', 'panel-retry', 'retry-title', 'guidance',
    'attempts-left', 'retry', 'panel-end', 'end-title', 'end-text', 'end-code'
  ].forEach(function (id) { el[id] = document.getElementById(id); });

  // ---- Translations. ----

  var strings = {};

  function pickLocale(raw) {
    if (!raw) return 'en';
    var wanted = String(raw).replace(/_/g, '-').toLowerCase();
    var language = wanted.split('-')[0];
    var exact = LOCALES.filter(function (l) { return l.toLowerCase() === wanted; })[0];
    var bare = LOCALES.filter(function (l) { return l === language; })[0];
    return exact || bare || 'en';
  }

  function t(key, values) {
    var text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (values) {
      Object.keys(values).forEach(function (name) {
        text = text.split('{' + name + '}').join(String(values[name]));
      });
    }
    return text;
  }

  function fetchStrings(locale) {
    return fetch(ASSETS + encodeURIComponent(locale) + '.json', { credentials: 'omit' })
      .then(function (response) {
        if (!response.ok) throw new Error('no translations for ' + locale);
        return response.json();
      });
  }

  function loadStrings(locale) {
    return fetchStrings(locale)
      .catch(function () { return locale === 'en' ? {} : fetchStrings('en'); })
      .catch(function () { return {}; })
      .then(function (loaded) {
        strings = loaded && typeof loaded === 'object' ? loaded : {};
        applyStrings(locale);
      });
  }

  function applyStrings(locale) {
    var root = document.documentElement;
    root.lang = locale;
    root.dir = RTL_LANGUAGES.indexOf(locale.split('-')[0]) >= 0 ? 'rtl' : 'ltr';
    document.title = t('title');
    Array.prototype.forEach.call(document.querySelectorAll('[data-t]'), function (node) {
      node.textContent = t(node.getAttribute('data-t'));
    });
    el.preview.setAttribute('aria-label', t('previewLabel'));
  }

  // ---- Screens. ----

  function show(panel) {
    ['panel-ready', 'panel-progress', 'panel-retry', 'panel-end'].forEach(function (id) {
      el[id].hidden = id !== panel;
    });
  }

  // The visible instruction, and the same words for screen readers. Only a
  // change is written, so that each instruction is announced once.
  var lastInstruction = '';
  function instruct(text) {
    if (text === lastInstruction) return;
    lastInstruction = text;
    el.instruction.textContent = text;
    announce(text);
  }

  function announce(text) {
    el.announcer.textContent = text;
  }

  function hint(text, level) {
    el.hint.textContent = text || '';
    if (level) el.hint.setAttribute('data-level', level);
    else el.hint.removeAttribute('data-level');
  }

  function fill(color) {
    document.documentElement.style.setProperty('--fill', color);
  }

  function showArrow(direction) {
    if (direction && ARROWS[direction]) {
      el.arrow.setAttribute('data-direction', direction);
      el.arrow.textContent = ARROWS[direction];
      el.arrow.hidden = false;
    } else {
      el.arrow.hidden = true;
      el.arrow.removeAttribute('data-direction');
      el.arrow.textContent = '';
    }
  }

  function showEnd(title, text, code) {
    stopChallengeView();
    el.frame.hidden = true;
    hint('');
    instruct('');
    el['end-title'].textContent = title;
    el['end-text'].textContent = text;
    el['end-code'].textContent = code ? t('errorCode', { code: code }) : '';
    // Focus reads the heading; the live region reads the rest.
    announce(text + (code ? ' ' + t('errorCode', { code: code }) : ''));
    show('panel-end');
    el.app.setAttribute('aria-busy', 'false');
    el.app.setAttribute('data-state', code ? 'error' : 'done');
    el['end-title'].focus();
  }

  // ---- The end of the flow: redirect, message to the parent frame. ----

  function isInFrame() {
    try {
      return window.parent !== window;
    } catch (e) {
      return true;
    }
  }

  function notifyParent(value, code) {
    if (!isInFrame()) return;
    var message = {
      authorizationToken: authorizationToken,
      transactionReference: state.transactionReference,
      eventType: 510,
      dateTime: new Date().toISOString(),
      payload: { value: value, metainfo: code ? { code: code } : {} }
    };
    // Once the session names the account's parentOrigin, the browser
    // delivers the message (it carries the token and the result) only to a
    // parent at that origin. Before a session is open the account is not
    // known; such a message carries nothing the framing page did not put in
    // the iframe's address itself, and goes to any parent as it always has.
    var target = state.parentOrigin || '*';
    try {
      window.parent.postMessage(JSON.stringify(message), target);
    } catch (e) {
      // A parent that cannot be reached cannot be told either; an origin the
      // browser cannot parse sends nothing rather than falling back to '*'.
    }
  }

  function isWebUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === 'https:' || parsed.protocol === 'http:';
    } catch (e) {
      return false;
    }
  }

  // Appends to the URL's query as it is, byte for byte (a customer's own
  // encoding of its parameters is kept).
  function withParams(url, params) {
    var hashAt = url.indexOf('#');
    var base = hashAt < 0 ? url : url.slice(0, hashAt);
    var hash = hashAt < 0 ? '' : url.slice(hashAt);
    var pairs = Object.keys(params).filter(function (k) {
      return params[k] !== null && params[k] !== undefined && params[k] !== '';
    }).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(String(params[k]));
    });
    var separator = base.indexOf('?') < 0 ? '?' : (/[?&]$/.test(base) ? '' : '&');
    return base + separator + pairs.join('&') + hash;
  }

  function leave(url) {
    el.app.setAttribute('data-state', 'redirecting');
    instruct(t('redirecting'));
    window.location.replace(url);
  }

  function fail(code) {
    if (state.ended) return;
    state.ended = true;
    stopCamera();
    stopChallengeView();
    notifyParent('error', code);
    if (state.errorUrl && isWebUrl(state.errorUrl)) {
      leave(withParams(state.errorUrl, {
        transactionStatus: 'ERROR',
        transactionReference: state.transactionReference,
        errorCode: code
      }));
      return;
    }
    showEnd(t('errorTitle'), t(ERROR_TEXT[code] || 'error9801'), code);
  }

  function complete(outcome, redirect) {
    if (state.ended) return;
    state.ended = true;
    stopCamera();
    stopChallengeView();
    var status = redirect && redirect.transactionStatus
      ? redirect.transactionStatus
      : (outcome === 'INVALID' ? 'ERROR' : 'SUCCESS');
    var code = status === 'ERROR'
      ? ((redirect && redirect.errorCode) || E.NOT_ACCEPTABLE)
      : null;
    notifyParent(status === 'SUCCESS' ? 'success' : 'error', code);
    if (redirect && typeof redirect.url === 'string' && isWebUrl(redirect.url)) {
      leave(redirect.url);
      return;
    }
    if (status === 'SUCCESS') showEnd(t('doneTitle'), t('doneText'), null);
    else showEnd(t('errorTitle'), t(ERROR_TEXT[code] || 'error9400'), code);
  }

  // ---- HTTP. ----

  function HttpFailure(status, problem) {
    this.status = status;
    this.problem = problem;
  }

  function Failure(code) {
    this.code = code;
  }

  // The errorCode of a failure at `stage` (session, attempt, frame, finish).
  function codeOf(error, stage) {
    if (error instanceof Failure) return error.code;
    if (!(error instanceof HttpFailure)) return E.CLIENT;
    if (error.status === 0) return E.OFFLINE;
    if (error.status >= 500) return E.SERVER;
    switch (error.problem) {
      case 'CAPTURE_TOKEN_INVALID': return E.TOKEN;
      case 'CAPTURE_SESSION_INVALID':
      case 'CAPTURE_SESSION_EXPIRED':
      case 'TRANSACTION_EXPIRED': return E.SESSION;
      // The attempts are used up and none of them was finished as the third:
      // the capture process failed (a judged third attempt ends the
      // transaction, and 9836 comes with its outcome).
      case 'ATTEMPTS_EXHAUSTED': return E.CAPTURE_FAILED;
      case 'TRANSACTION_FINISHED': return E.VERIFICATION;
      default: break;
    }
    if (stage === 'session' && error.status === 400) return E.TOKEN;
    if (stage === 'frame') return E.UPLOAD;
    if (error.status >= 400) return E.VERIFICATION;
    return E.ANSWER;
  }

  // One protocol call. Answers the parsed JSON of a 2xx; throws an
  // HttpFailure (status 0: no network) or Failure(9810) otherwise.
  function call(method, path, options) {
    var headers = { Accept: 'application/json' };
    var body;
    if (options.bearer) headers.Authorization = 'Bearer ' + state.captureToken;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    if (options.blob) {
      headers['Content-Type'] = 'image/jpeg';
      body = options.blob;
    }
    Object.keys(options.headers || {}).forEach(function (name) {
      headers[name] = options.headers[name];
    });
    return fetch(path, {
      method: method,
      headers: headers,
      body: body,
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer'
    }).then(function (response) {
      return response.text().then(function (text) {
        var data;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = undefined;
        }
        if (!response.ok) {
          var problem = data && typeof data.code === 'string' ? data.code : null;
          throw new HttpFailure(response.status, problem);
        }
        if (!data || typeof data !== 'object') throw new Failure(E.ANSWER);
        return data;
      }, function () {
        throw new HttpFailure(0, null);
      });
    }, function () {
      throw new HttpFailure(0, null);
    });
  }

  // ---- Camera. ----

  function waitFor(condition, timeoutMs) {
    return new Promise(function (resolve) {
      var started = performance.now();
      (function poll() {
        if (condition()) resolve(true);
        else if (performance.now() - started > timeoutMs) resolve(false);
        else setTimeout(poll, 50);
      })();
    });
  }

  function openCamera() {
    var media = navigator.mediaDevices;
    if (!media || typeof media.getUserMedia !== 'function') {
      return Promise.reject(new Failure(E.NO_CAMERA_SUPPORT));
    }
    return media.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }
    }).then(function (stream) {
      state.stream = stream;
      var track = stream.getVideoTracks()[0];
      if (!track) throw new Failure(E.CAMERA);
      track.addEventListener('ended', function () { fail(E.CAMERA); });
      el.preview.srcObject = stream;
      el.frame.hidden = false;
      watchFrames(el.preview);
      var playing = el.preview.play();
      if (playing && playing.catch) playing.catch(function () {});
      return waitFor(function () {
        return el.preview.videoWidth > 0 && el.preview.readyState >= 2;
      }, CAMERA_START_TIMEOUT_MS);
    }, function () {
      // NotAllowedError, NotFoundError, NotReadableError, OverconstrainedError,
      // SecurityError (an iframe without allow="camera"): all "unavailable".
      throw new Failure(E.CAMERA);
    }).then(function (ready) {
      // A camera that opens but delivers no frame is unavailable too.
      if (!ready) throw new Failure(E.CAMERA);
    });
  }

  // Notes the time of each new camera frame the preview shows, where the
  // browser tells (requestVideoFrameCallback); elsewhere a stall is not
  // detected, only an ended track.
  function watchFrames(video) {
    if (typeof video.requestVideoFrameCallback !== 'function') return;
    function onFrame() {
      state.lastFrameAt = performance.now();
      if (state.stream) video.requestVideoFrameCallback(onFrame);
    }
    video.requestVideoFrameCallback(onFrame);
    // A hidden page is shown no frames: the wait starts again when it is
    // visible.
    document.addEventListener('visibilitychange', function () {
      if (state.lastFrameAt !== null) state.lastFrameAt = performance.now();
    });
  }

  // Whether the camera has stopped delivering frames: its track ended (the
  // device was unplugged, taken by another application, or stopped), or a
  // visible preview has shown no new frame for CAMERA_STALL_MS.
  function cameraStopped() {
    var track = state.stream ? state.stream.getVideoTracks()[0] : null;
    if (!track || track.readyState === 'ended') return true;
    return document.visibilityState === 'visible' && state.lastFrameAt !== null &&
      performance.now() - state.lastFrameAt > CAMERA_STALL_MS;
  }

  function stopCamera() {
    stopLightHints();
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) { track.stop(); });
      state.stream = null;
    }
  }

  // Light: the mean brightness of the part of the image inside the oval.
  // (Face size cannot be known without a face model; distance advice comes
  // from the oval itself and from the server's guidance after an attempt.)
  var probe = document.createElement('canvas');
  probe.width = 32;
  probe.height = 24;

  function ovalBrightness() {
    var video = el.preview;
    var ctx = probe.getContext('2d', { willReadFrequently: true });
    if (!ctx || !video.videoWidth) return null;
    ctx.drawImage(video, 0, 0, probe.width, probe.height);
    var pixels = ctx.getImageData(0, 0, probe.width, probe.height).data;
    // The oval (3:4) shows the middle of the video (object-fit: cover).
    var videoAspect = video.videoWidth / video.videoHeight;
    var ovalAspect = 3 / 4;
    var rx = 0.5 * Math.min(1, ovalAspect / videoAspect);
    var ry = 0.5 * Math.min(1, videoAspect / ovalAspect);
    var sum = 0;
    var count = 0;
    for (var y = 0; y < probe.height; y++) {
      for (var x = 0; x < probe.width; x++) {
        var dx = ((x + 0.5) / probe.width - 0.5) / rx;
        var dy = ((y + 0.5) / probe.height - 0.5) / ry;
        if (dx * dx + dy * dy > 1) continue;
        var i = (y * probe.width + x) * 4;
        sum += 0.2126 * pixels[i] + 0.7152 * pixels[i + 1] + 0.0722 * pixels[i + 2];
        count++;
      }
    }
    return count ? sum / count : null;
  }

  function updateLightHint() {
    var brightness = ovalBrightness();
    if (brightness === null) return;
    if (brightness < 60) hint(t('hintLightLow'), 'warn');
    else if (brightness > 215) hint(t('hintLightHigh'), 'warn');
    else hint(t('hintLightOk'));
  }

  function startLightHints() {
    stopLightHints();
    updateLightHint();
    state.lightTimer = setInterval(updateLightHint, 700);
  }

  function stopLightHints() {
    if (state.lightTimer !== null) clearInterval(state.lightTimer);
    state.lightTimer = null;
  }

  // ---- One attempt. ----

  function isWindow(w) {
    return w && typeof w.startMs === 'number' && typeof w.endMs === 'number';
  }

  function isChallenge(c) {
    return c && typeof c.durationMs === 'number' && c.durationMs > 0 &&
      typeof c.frameIntervalMs === 'number' && c.frameIntervalMs > 0 &&
      typeof c.maxFrames === 'number' && c.maxFrames > 0 &&
      isWindow(c.neutral) &&
      Array.isArray(c.steps) && c.steps.every(function (s) { return isWindow(s) && STEP_TEXT[s.direction]; }) &&
      Array.isArray(c.flashes) && c.flashes.every(isWindow);
  }

  function within(w, at) {
    return at >= w.startMs && at < w.endMs;
  }

  // What the screen shows at time `at` (ms since t = 0) of the challenge.
  function scene(challenge, flash, at) {
    var color = WHITE;
    if (flash) {
      challenge.flashes.forEach(function (f) {
        if (within(f, at) && /^#[0-9a-fA-F]{6}$/.test(f.color)) color = f.color;
      });
    }
    var step = challenge.steps.filter(function (s) { return within(s, at); })[0];
    var text;
    if (step) text = t(STEP_TEXT[step.direction]);
    else if (within(challenge.neutral, at)) text = t('stepNeutral');
    else if (at < challenge.durationMs) text = t('stepCenter');
    else text = t('checking');
    return { color: color, direction: step ? step.direction : null, text: text };
  }

  function startChallengeView(challenge, flash, t0) {
    function render() {
      if (state.renderHandle === null) return;
      var at = performance.now() - t0;
      var now = scene(challenge, flash, at);
      fill(now.color);
      showArrow(now.direction);
      instruct(now.text);
      el.progress.value = Math.min(100, Math.round((at / challenge.durationMs) * 100));
      state.renderHandle = window.requestAnimationFrame(render);
    }
    state.renderHandle = 0;
    render();
  }

  function stopChallengeView() {
    if (state.renderHandle) window.cancelAnimationFrame(state.renderHandle);
    state.renderHandle = null;
    fill(WHITE);
    showArrow(null);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  var canvas = document.createElement('canvas');

  // Draws the current camera image (not mirrored) and answers a promise of
  // its JPEG. toBlob copies the bitmap at once, so the canvas can be reused.
  function grabFrame() {
    var video = el.preview;
    var scale = Math.min(1, state.frame.maxWidth / video.videoWidth,
      state.frame.maxHeight / video.videoHeight);
    var width = Math.max(1, Math.floor(video.videoWidth * scale));
    var height = Math.max(1, Math.floor(video.videoHeight * scale));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    var ctx = canvas.getContext('2d');
    if (!ctx) return Promise.resolve(null);
    ctx.drawImage(video, 0, 0, width, height);
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, 'image/jpeg', 0.85);
    });
  }

  // Sends frames one at a time, in capture order: the server wants the
  // index to grow by one per frame and the time never to go back (§3).
  function Uploader(attempt) {
    this.attempt = attempt;
    this.queue = [];
    this.index = 0;
    this.draining = null;
    this.stopped = false;
    this.error = null;
  }

  Uploader.prototype.push = function (at, blobPromise) {
    if (this.stopped) return;
    this.queue.push({ at: at, blob: blobPromise, capturedAt: performance.now() });
    if (!this.draining) this.draining = this.drain();
  };

  Uploader.prototype.drain = function () {
    var self = this;
    var path = API + '/attempts/' + encodeURIComponent(self.attempt.attemptId) + '/frames';
    function next() {
      if (self.stopped || state.ended || !self.queue.length) {
        self.draining = null;
        return Promise.resolve();
      }
      var item = self.queue.shift();
      return item.blob.then(function (blob) {
        if (!blob || blob.size > state.frame.maxBytes) return null;
        if (performance.now() - item.capturedAt > MAX_FRAME_AGE_MS) return null;
        return call('POST', path, {
          bearer: true,
          blob: blob,
          headers: {
            'Capture-Nonce': self.attempt.nonce,
            'Capture-Time-Ms': String(item.at),
            'Capture-Frame': String(self.index)
          }
        }).then(function () {
          self.index += 1;
        }, function (error) {
          var problem = error instanceof HttpFailure ? error.problem : null;
          // A late frame is refused and not kept: the next one takes its index.
          if (problem === 'FRAME_OUT_OF_WINDOW') return;
          // The server has what it will use; let the finish decide.
          if (problem === 'FRAME_LIMIT' || problem === 'FRAME_OUT_OF_ORDER') {
            self.stopped = true;
            return;
          }
          self.stopped = true;
          self.error = error;
        });
      }).then(next);
    }
    return next();
  };

  Uploader.prototype.done = function () {
    var self = this;
    return self.draining ? self.draining.then(function () { return self.done(); }) : Promise.resolve();
  };

  // Captures from t = 0 to durationMs, a little more often than
  // frameIntervalMs asks (timers run late) but within maxFrames. A camera
  // that stops meanwhile ends the flow with 9820.
  function captureFrames(challenge, uploader, t0) {
    var slack = Math.min(challenge.frameIntervalMs * 0.8, challenge.frameIntervalMs - 8);
    var tightest = challenge.durationMs / Math.max(1, challenge.maxFrames - 1);
    var period = Math.min(challenge.frameIntervalMs, Math.max(slack, tightest, 1));
    var k = 0;
    var lastAt = -1;
    function next() {
      if (state.ended || uploader.stopped || k >= challenge.maxFrames) return Promise.resolve();
      var target = k * period;
      if (target > challenge.durationMs) return Promise.resolve();
      return sleep(Math.max(0, t0 + target - performance.now())).then(function () {
        if (state.ended || uploader.stopped) return null;
        if (cameraStopped()) throw new Failure(E.CAMERA);
        var at = Math.round(performance.now() - t0);
        if (at > challenge.durationMs + 250) return null;
        // After a stalled timer two frames can fall on the same millisecond;
        // capture times must increase (FRAME_TOO_FAST), so skip the second.
        if (at > lastAt) {
          uploader.push(at, grabFrame());
          lastAt = at;
        }
        k += 1;
        return next();
      });
    }
    return next();
  }

  function runAttempt() {
    if (state.running || state.ended) return;
    state.running = true;
    var flash = !el['no-flash'].checked;
    el.start.disabled = true;
    el.retry.disabled = true;
    stopLightHints();
    hint('');
    var attempt;
    call('POST', API + '/attempts', { bearer: true, json: { flash: flash } })
      .then(function (answer) {
        if (typeof answer.attemptId !== 'string' || typeof answer.nonce !== 'string' ||
          !isChallenge(answer.challenge)) {
          throw new Failure(E.ANSWER);
        }
        attempt = answer;
        if (typeof answer.attemptNumber === 'number') state.attemptsUsed = answer.attemptNumber;
        attempt.left = typeof answer.attemptsLeft === 'number'
          ? answer.attemptsLeft : Math.max(0, state.maxAttempts - state.attemptsUsed);
        el.app.setAttribute('data-state', 'challenge');
        el.progress.value = 0;
        show('panel-progress');
        var uploader = new Uploader(attempt);
        var t0 = performance.now();
        if (state.lastFrameAt !== null) state.lastFrameAt = t0;
        startChallengeView(attempt.challenge, flash, t0);
        return captureFrames(attempt.challenge, uploader, t0)
          .then(function () { return uploader.done(); })
          .then(function () {
            if (uploader.error) throw { stage: 'frame', error: uploader.error };
            return uploader.index > 0;
          });
      }, function (error) {
        throw { stage: 'attempt', error: error };
      })
      .then(function (sent) {
        if (state.ended) return null;
        // Not one frame reached the server (each was too large, too late or
        // not made): there is nothing to judge, and the attempt is left
        // unfinished (the server counts it as used). Another may follow;
        // after the last, the capture process has failed.
        if (!sent) {
          if (attempt.left > 0) showRetry([NOTHING_SENT], attempt.left);
          else fail(E.CAPTURE_FAILED);
          return null;
        }
        stopChallengeView();
        instruct(t('checking'));
        el.progress.removeAttribute('value');
        el.app.setAttribute('data-state', 'checking');
        return call('POST', API + '/attempts/' + encodeURIComponent(attempt.attemptId) + '/finish', {
          bearer: true,
          json: { nonce: attempt.nonce }
        }).then(handleOutcome, function (error) {
          throw { stage: 'finish', error: error };
        });
      })
      .catch(function (wrapped) {
        var staged = wrapped && wrapped.stage ? wrapped : { stage: 'attempt', error: wrapped };
        fail(codeOf(staged.error, staged.stage));
      })
      .then(function () {
        state.running = false;
        el.start.disabled = false;
        el.retry.disabled = false;
      });
  }

  function handleOutcome(result) {
    if (state.ended) return;
    switch (result.outcome) {
      case 'RETRY':
        showRetry(Array.isArray(result.guidance) ? result.guidance : [], result.attemptsLeft);
        return;
      case 'PASSED':
      case 'FAILED':
      case 'INVALID':
        complete(result.outcome, result.redirect && typeof result.redirect === 'object' ? result.redirect : null);
        return;
      default:
        throw new Failure(E.ANSWER);
    }
  }

  function showRetry(guidance, attemptsLeft) {
    stopChallengeView();
    el.app.setAttribute('data-state', 'retry');
    var list = el.guidance;
    while (list.firstChild) list.removeChild(list.firstChild);
    var texts = guidance.map(function (code) { return GUIDANCE_TEXT[code]; }).filter(Boolean);
    if (!texts.length) texts = ['guidanceGeneric'];
    texts.forEach(function (key) {
      var item = document.createElement('li');
      item.textContent = t(key);
      list.appendChild(item);
    });
    el['attempts-left'].textContent = typeof attemptsLeft === 'number'
      ? t('attemptsLeft', { n: attemptsLeft }) : '';
    // The panel shows the title and the advice; the live region reads them.
    instruct('');
    announce(t('retryTitle') + ' ' + texts.map(function (key) { return t(key); }).join(' '));
    show('panel-retry');
    startLightHints();
    el['retry-title'].focus();
  }

  function showReady() {
    el.app.setAttribute('data-state', 'ready');
    el.app.setAttribute('aria-busy', 'false');
    el.attempt.textContent = t('attemptOf', {
      n: Math.min(state.attemptsUsed + 1, state.maxAttempts),
      max: state.maxAttempts
    });
    instruct(t('readyInstruction'));
    show('panel-ready');
    startLightHints();
  }

  // ---- Start. ----

  function openSession() {
    return call('POST', API + '/session', { json: { authorizationToken: authorizationToken } })
      .then(function (session) {
        if (typeof session.captureToken !== 'string' || !session.captureToken ||
          typeof session.transactionReference !== 'string') {
          throw new Failure(E.ANSWER);
        }
        state.captureToken = session.captureToken;
        state.transactionReference = session.transactionReference;
        state.errorUrl = typeof session.errorUrl === 'string' ? session.errorUrl : null;
        state.parentOrigin = typeof session.parentOrigin === 'string' && session.parentOrigin
          ? session.parentOrigin : null;
        if (typeof session.maxAttempts === 'number') state.maxAttempts = session.maxAttempts;
        if (typeof session.attemptsUsed === 'number') state.attemptsUsed = session.attemptsUsed;
        var frame = session.frame || {};
        ['maxBytes', 'maxWidth', 'maxHeight'].forEach(function (name) {
          if (typeof frame[name] === 'number' && frame[name] > 0) state.frame[name] = frame[name];
        });
        // The redirect URL names the locale; without one, the transaction's.
        if (!query.get('locale') && typeof session.locale === 'string') {
          var locale = pickLocale(session.locale);
          if (locale !== state.locale) {
            state.locale = locale;
            return loadStrings(locale);
          }
        }
        return null;
      }, function (error) {
        throw new Failure(codeOf(error, 'session'));
      });
  }

  function main() {
    el.frame.hidden = true;
    show(null);
    el.start.addEventListener('click', runAttempt);
    el.retry.addEventListener('click', runAttempt);
    window.addEventListener('pagehide', stopCamera);
    window.addEventListener('error', function () { fail(E.CLIENT); });
    window.addEventListener('unhandledrejection', function () { fail(E.CLIENT); });

    return loadStrings(state.locale).then(function () {
      instruct(t('loading'));
      if (!authorizationToken) throw new Failure(E.TOKEN);
      return openSession();
    }).then(function () {
      notifyParent('loaded');
      // A transaction still open with its attempts used up (the user left or
      // reloaded during each): no capture can follow.
      if (state.attemptsUsed >= state.maxAttempts) throw new Failure(E.CAPTURE_FAILED);
      instruct(t('cameraRequest'));
      return openCamera();
    }).then(showReady, function (error) {
      fail(codeOf(error, 'session'));
    });
  }

  main();
})();
