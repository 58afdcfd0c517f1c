// Facegate web capture client. It speaks the capture protocol
// (docs/capture-protocol.md): exchange the authorization token for a capture
// token, run the server's challenge per attempt, upload every frame at once,
// finish, and go where the server says. An ID verification first takes the
// document (camera or file, §9), then the same selfie attempts. The server
// decides; this page only shows, captures and sends. The authorization
// token is kept in the tab's session storage (so that a reload goes on, as
// the v4 guide says); the capture token lives in memory only.
(function () {
  'use strict';

  // The server fills in its lists (crates/api/src/web.rs).
  var LOCALES = /*{{locales}}*/[];
  var RTL_LANGUAGES = ['ar', 'he', 'fa', 'ur'];
  var API = '/api/capture/v1';
  var ASSETS = '/web/v4/assets/';
  // Where the authorization token waits for a reload: this tab only, gone
  // with it; never a cookie, never local storage.
  var TOKEN_KEY = 'facegate.authorizationToken';

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

  function sessionStore(action) {
    try {
      return action(window.sessionStorage);
    } catch (e) {
      // Storage refused (a sandboxed frame, a privacy mode): a reload then
      // shows 9200, as without storage.
      return null;
    }
  }

  var query = new URLSearchParams(window.location.search);
  var authorizationToken = query.get('authorizationToken') ||
    sessionStore(function (s) { return s.getItem(TOKEN_KEY); }) || '';
  if (query.has('authorizationToken')) {
    sessionStore(function (s) { s.setItem(TOKEN_KEY, authorizationToken); });
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
    renderHandle: null,
    // An ID verification's capture (the session's `scan`), null otherwise.
    scan: null,
    customerInternalReference: null
  };

  var el = {};
  ['app', 'title', 'frame', 'preview', 'arrow', 'instruction', 'announcer', 'hint', 'panel-ready', 'no-flash',
    'attempt', 'start', 'panel-progress', 'progress', 'panel-retry', 'retry-title', 'guidance',
    'attempts-left', 'retry', 'panel-end', 'end-title', 'end-text', 'end-code',
    'docframe', 'doc-preview', 'outline', 'step', 'panel-choose', 'choose-title', 'scan-intro', 'country', 'types',
    'choose-error', 'choose-continue', 'panel-document', 'document-title', 'document-error',
    'take-photo', 'upload-instead', 'panel-upload', 'upload-title', 'file', 'upload-error',
    'use-camera', 'panel-review', 'review-title', 'review-image', 'review-yes', 'review-no', 'selfie-intro'
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
    document.title = t(el.title.getAttribute('data-t') || 'title');
    Array.prototype.forEach.call(document.querySelectorAll('[data-t]'), function (node) {
      node.textContent = t(node.getAttribute('data-t'));
    });
    el.preview.setAttribute('aria-label', t('previewLabel'));
    el['doc-preview'].setAttribute('aria-label', t('docFrameLabel'));
    el['review-image'].setAttribute('alt', t('reviewImageLabel'));
  }

  // ---- Screens. ----

  function show(panel) {
    ['panel-choose', 'panel-document', 'panel-upload', 'panel-review', 'panel-ready',
      'panel-progress', 'panel-retry', 'panel-end'].forEach(function (id) {
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
    if (el.hint.textContent === (text || '') && el.hint.getAttribute('data-level') === (level || null)) return;
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
    el.docframe.hidden = true;
    el.step.textContent = '';
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
    if (state.customerInternalReference) {
      message.customerInternalReference = state.customerInternalReference;
    }
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
        customerInternalReference: state.customerInternalReference,
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
    // Decided: a reload has nothing left to go on with.
    sessionStore(function (s) { s.removeItem(TOKEN_KEY); });
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
    if (stage === 'frame' || stage === 'document') return E.UPLOAD;
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
      headers['Content-Type'] = options.blob.type || 'image/jpeg';
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

  // The selfie camera: the user-facing one, in the oval.
  function openCamera() {
    return openStream(el.preview, { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      function () { el.frame.hidden = false; });
  }

  // Opens the camera `video` asks for into `preview`; `shown` runs once the
  // stream is there. A camera that ends later fails the flow, unless it was
  // stopped on purpose (stopCamera).
  function openStream(preview, video, shown) {
    var media = navigator.mediaDevices;
    if (!media || typeof media.getUserMedia !== 'function') {
      return Promise.reject(new Failure(E.NO_CAMERA_SUPPORT));
    }
    return media.getUserMedia({ audio: false, video: video }).then(function (stream) {
      state.stream = stream;
      var track = stream.getVideoTracks()[0];
      if (!track) throw new Failure(E.CAMERA);
      track.addEventListener('ended', function () { if (state.stream === stream) fail(E.CAMERA); });
      preview.srcObject = stream;
      shown();
      watchFrames(preview);
      var playing = preview.play();
      if (playing && playing.catch) playing.catch(function () {});
      return waitFor(function () {
        return preview.videoWidth > 0 && preview.readyState >= 2;
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
    stopDocumentWatch();
    if (state.stream) {
      var stream = state.stream;
      state.stream = null;
      state.lastFrameAt = null;
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
  }

  // Light: the live hint, from the camera image alone. (Face size cannot be
  // known without a face model; distance advice comes from the oval itself
  // and from the server's guidance after an attempt.) The probe measures
  // luminance (BT.709, 0–255) inside the oval, where the face is, and
  // outside it, around the face: only the two together tell a backlit face
  // from a dark room.
  var probe = document.createElement('canvas');
  probe.width = 32;
  probe.height = 24;

  // The rule of the hint (lightHint), on the probe's numbers.
  var LIGHT = {
    // The oval's mean below LOW is too dark, above HIGH over-exposed.
    LOW: 60,
    HIGH: 215,
    // Backlit: a window or lamp behind the user sets the camera's exposure
    // and the face goes dark against bright surroundings. The oval's mean
    // is below BACKLIT_OVAL, and the surroundings' mean is brighter by more
    // than BACKLIT_GAP, or at least BACKLIT_WHITE of the surroundings is
    // near white (WHITE_LEVEL or more: a window burnt out to white).
    // Checked before LOW: a backlit face is often dark too, but a brighter
    // place would not help it, facing the light does.
    BACKLIT_OVAL: 110,
    BACKLIT_GAP: 55,
    WHITE_LEVEL: 240,
    BACKLIT_WHITE: 0.25
  };

  // The hint's translation key for the probe's light: `oval` and
  // `surround` are mean luminances, `surroundWhite` the share of the
  // surroundings at WHITE_LEVEL or more.
  function lightHint(light) {
    var backlit = light.oval < LIGHT.BACKLIT_OVAL &&
      (light.surround - light.oval > LIGHT.BACKLIT_GAP || light.surroundWhite >= LIGHT.BACKLIT_WHITE);
    if (backlit) return 'hintLightBacklight';
    if (light.oval < LIGHT.LOW) return 'hintLightLow';
    if (light.oval > LIGHT.HIGH) return 'hintLightHigh';
    return 'hintLightOk';
  }

  // The light of the camera image now (lightHint's numbers), or null before
  // it shows a frame.
  function measureLight() {
    var video = el.preview;
    var ctx = probe.getContext('2d', { willReadFrequently: true });
    if (!ctx || !video.videoWidth) return null;
    ctx.drawImage(video, 0, 0, probe.width, probe.height);
    var pixels = ctx.getImageData(0, 0, probe.width, probe.height).data;
    // The oval (3:4) shows the middle of the video (object-fit: cover); the
    // camera sees the rest too, and so do the frames sent to the server.
    var videoAspect = video.videoWidth / video.videoHeight;
    var ovalAspect = 3 / 4;
    var rx = 0.5 * Math.min(1, ovalAspect / videoAspect);
    var ry = 0.5 * Math.min(1, videoAspect / ovalAspect);
    var inside = 0;
    var insideCount = 0;
    var outside = 0;
    var outsideCount = 0;
    var outsideWhite = 0;
    for (var y = 0; y < probe.height; y++) {
      for (var x = 0; x < probe.width; x++) {
        var dx = ((x + 0.5) / probe.width - 0.5) / rx;
        var dy = ((y + 0.5) / probe.height - 0.5) / ry;
        var i = (y * probe.width + x) * 4;
        var luminance = 0.2126 * pixels[i] + 0.7152 * pixels[i + 1] + 0.0722 * pixels[i + 2];
        if (dx * dx + dy * dy <= 1) {
          inside += luminance;
          insideCount++;
        } else {
          outside += luminance;
          outsideCount++;
          if (luminance >= LIGHT.WHITE_LEVEL) outsideWhite++;
        }
      }
    }
    if (!insideCount) return null;
    var oval = inside / insideCount;
    // Without surroundings (none in the probe) the light counts as even.
    return {
      oval: oval,
      surround: outsideCount ? outside / outsideCount : oval,
      surroundWhite: outsideCount ? outsideWhite / outsideCount : 0
    };
  }

  // During an attempt (`backlightOnly`) only backlight is told: the screen's
  // flashes change the face's light, not the light behind the user.
  function updateLightHint(backlightOnly) {
    var light = measureLight();
    if (light === null) return;
    var key = lightHint(light);
    if (backlightOnly) {
      hint(key === 'hintLightBacklight' ? t(key) : '', key === 'hintLightBacklight' ? 'warn' : null);
      return;
    }
    hint(t(key), key === 'hintLightOk' ? null : 'warn');
  }

  function startLightHints(backlightOnly) {
    stopLightHints();
    updateLightHint(backlightOnly);
    state.lightTimer = setInterval(function () { updateLightHint(backlightOnly); }, 700);
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
    hint('');
    startLightHints(true);
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
    el['selfie-intro'].hidden = !state.scan;
    if (state.scan) showStep(scanSteps().length);
    el.app.setAttribute('aria-busy', 'false');
    el.attempt.textContent = t('attemptOf', {
      n: Math.min(state.attemptsUsed + 1, state.maxAttempts),
      max: state.maxAttempts
    });
    instruct(t('readyInstruction'));
    show('panel-ready');
    startLightHints();
  }

  // ---- ID verification: the document sides (§9), then the selfie (§10). ----

  // ISO 3166-1 alpha-3 → alpha-2 (the server fills it in from the domain's
  // list); the browser names each country in the page's language.
  var COUNTRIES = /*{{countries}}*/{};
  var DOCUMENT_TYPES = ['PASSPORT', 'ID_CARD', 'DRIVING_LICENSE'];
  var TYPE_TEXT = { PASSPORT: 'typePassport', ID_CARD: 'typeIdCard', DRIVING_LICENSE: 'typeDrivingLicense' };
  // The live hints of the document camera look at a small grey copy of the
  // part of the image inside the outline, every DOC_TICK_MS. They only
  // advise and time the automatic photo; the server judges the picture.
  var DOC_TICK_MS = 200;
  var DOC_PROBE_WIDTH = 240;
  // The outline: this share of the preview's width, at the proportions of a
  // passport's data page or an ID card (about 3:2).
  var OUTLINE_WIDTH = 0.8;
  var OUTLINE_ASPECT = 1.5;
  var DOC_LIMITS = {
    dark: 55,          // mean grey level below which the picture is too dark
    glareLevel: 250,   // a burnt-out pixel
    glareGap: 3,       // pixels to the burnt-out neighbours of a washed-out one
    glareShare: 0.04,  // share of washed-out pixels that makes glare
    motion: 6,         // mean grey change between two looks: moving
    sharp: 5,          // mean absolute Laplacian below which text is blurred
    fill: 0.55         // the document's edges span less of the outline: too far
  };
  // Looks in a row that must all be good before the photo is taken, and the
  // time the user gets to place the document first.
  var DOC_STEADY_LOOKS = 4;
  var DOC_WARM_UP_MS = 1500;
  // The longest side of a photo sent: enough for the zone's small print,
  // well inside the server's limits.
  var DOC_MAX_SIDE = 3000;

  var doc = {
    documentType: null,
    side: null,
    method: null,
    blob: null,
    reviewUrl: null,
    timer: null,
    startedAt: 0,
    good: 0,
    previous: null,
    capturing: false,
    sending: false
  };

  function isScan(s) {
    return typeof s.workflowId === 'number' && typeof s.camera === 'boolean' &&
      typeof s.upload === 'boolean' && typeof s.selfie === 'boolean' &&
      Array.isArray(s.sidesNeeded) && Array.isArray(s.sidesGiven) &&
      Array.isArray(s.acceptedDocumentTypes) && Array.isArray(s.acceptedCountries);
  }

  function documentLimits() {
    var limits = state.scan.documentLimits || {};
    return {
      maxBytes: typeof limits.maxBytes === 'number' ? limits.maxBytes : 10485760,
      minSide: typeof limits.minSide === 'number' ? limits.minSide : 200,
      maxSide: typeof limits.maxSide === 'number' ? limits.maxSide : 8192
    };
  }

  // The steps the user goes through: each side, then the selfie.
  function scanSteps() {
    var steps = ['front'];
    var type = doc.documentType || state.scan.documentType;
    if (state.scan.sidesNeeded.indexOf('back') >= 0 || (type && type !== 'PASSPORT')) steps.push('back');
    if (state.scan.selfie) steps.push('selfie');
    return steps;
  }

  function showStep(n) {
    el.step.textContent = t('stepOf', { n: n, max: scanSteps().length });
  }

  function nextSide() {
    var given = state.scan.sidesGiven;
    return state.scan.sidesNeeded.filter(function (side) { return given.indexOf(side) < 0; })[0] || null;
  }

  function startScan() {
    el.title.setAttribute('data-t', 'titleScan');
    applyStrings(state.locale);
    el['scan-intro'].textContent = t(state.scan.selfie ? 'introScan' : 'introScanIdOnly');
    doc.documentType = state.scan.documentType || null;
    el['choose-continue'].addEventListener('click', chooseDone);
    el['take-photo'].addEventListener('click', function () { takeDocumentPhoto(); });
    el['upload-instead'].addEventListener('click', function () { startSide(doc.side, 'UPLOAD'); });
    el['use-camera'].addEventListener('click', function () { startSide(doc.side, 'CAMERA'); });
    el.file.addEventListener('change', fileChosen);
    el['review-yes'].addEventListener('click', sendSide);
    el['review-no'].addEventListener('click', function () { startSide(doc.side, doc.method); });
    // A reload goes on where the scan is: with what was already given.
    var side = nextSide();
    if (!side) return documentsDone();
    if (!doc.documentType) return showChoose();
    return startSide(side, null);
  }

  // ---- The country and the type of the document. ----

  function countryName(alpha3) {
    var alpha2 = COUNTRIES[alpha3];
    try {
      var names = new Intl.DisplayNames([state.locale], { type: 'region' });
      return (alpha2 && names.of(alpha2)) || alpha3;
    } catch (e) {
      return alpha3;
    }
  }

  function showChoose() {
    var accepted = state.scan.acceptedCountries.filter(function (c) { return COUNTRIES[c]; });
    var codes = accepted.length ? accepted : Object.keys(COUNTRIES);
    var named = codes.map(function (code) { return { code: code, name: countryName(code) }; });
    named.sort(function (a, b) { return a.name.localeCompare(b.name, state.locale); });
    var select = el.country;
    while (select.firstChild) select.removeChild(select.firstChild);
    var none = document.createElement('option');
    none.value = '';
    none.textContent = t('countryPlaceholder');
    select.appendChild(none);
    named.forEach(function (c) {
      var option = document.createElement('option');
      option.value = c.code;
      option.textContent = c.name;
      select.appendChild(option);
    });
    if (state.scan.presetCountry) select.value = state.scan.presetCountry;
    else if (codes.length === 1) select.value = codes[0];

    var fieldset = el.types;
    Array.prototype.slice.call(fieldset.querySelectorAll('.choice')).forEach(function (node) {
      fieldset.removeChild(node);
    });
    var types = state.scan.acceptedDocumentTypes.filter(function (type) { return TYPE_TEXT[type]; });
    if (!types.length) types = DOCUMENT_TYPES;
    types.forEach(function (type, i) {
      var row = document.createElement('div');
      row.className = 'choice';
      var input = document.createElement('input');
      input.type = 'radio';
      input.name = 'document-type';
      input.id = 'type-' + type;
      input.value = type;
      if (types.length === 1 || i === 0) input.checked = true;
      var label = document.createElement('label');
      label.htmlFor = input.id;
      label.textContent = t(TYPE_TEXT[type]);
      row.appendChild(input);
      row.appendChild(label);
      fieldset.appendChild(row);
    });
    el['choose-error'].textContent = '';
    el.app.setAttribute('data-state', 'choose');
    el.app.setAttribute('aria-busy', 'false');
    instruct('');
    showStep(1);
    show('panel-choose');
    el['choose-title'].focus();
  }

  function chooseDone() {
    var checked = el.types.querySelector('input:checked');
    if (!el.country.value || !checked) {
      el['choose-error'].textContent = t('chooseMissing');
      (el.country.value ? checked || el.types.querySelector('input') : el.country).focus();
      return;
    }
    doc.documentType = checked.value;
    startSide('front', null);
  }

  // ---- One side: by camera or by file, then the review. ----

  // `method`: CAMERA, UPLOAD, or null for the workflow's first choice.
  function startSide(side, method) {
    doc.side = side;
    forgetReview();
    var chosen = method || (state.scan.camera ? 'CAMERA' : 'UPLOAD');
    if (chosen === 'CAMERA' && !state.scan.camera) chosen = 'UPLOAD';
    if (chosen === 'UPLOAD' && !state.scan.upload) chosen = 'CAMERA';
    doc.method = chosen;
    showStep(scanSteps().indexOf(side) + 1);
    if (chosen === 'UPLOAD') {
      showUpload();
      return Promise.resolve();
    }
    return startDocumentCamera();
  }

  var SIDE_TEXT = {
    camera: { passport: 'docPassport', front: 'docFront', back: 'docBack' },
    upload: { passport: 'uploadPassport', front: 'uploadFront', back: 'uploadBack' }
  };

  // The words for the side asked now, by camera or by file.
  function sideKey(kind) {
    var which = doc.side === 'back' ? 'back' : (doc.documentType === 'PASSPORT' ? 'passport' : 'front');
    return SIDE_TEXT[kind][which];
  }

  function showUpload() {
    stopCamera();
    el.docframe.hidden = true;
    el['upload-title'].textContent = t(sideKey('upload'));
    el.file.value = '';
    el['use-camera'].hidden = !state.scan.camera;
    el.app.setAttribute('data-state', 'upload');
    el.app.setAttribute('aria-busy', 'false');
    instruct('');
    hint('');
    show('panel-upload');
    el['upload-title'].focus();
  }

  function startDocumentCamera() {
    el['document-title'].textContent = t(sideKey('camera'));
    el['upload-instead'].hidden = !state.scan.upload;
    el['document-error'].textContent = '';
    el.app.setAttribute('data-state', 'document');
    el.app.setAttribute('aria-busy', 'false');
    instruct('');
    show('panel-document');
    el['document-title'].focus();
    var opened = state.stream ? Promise.resolve() : openStream(el['doc-preview'], {
      facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 }
    }, function () { el.docframe.hidden = false; }).then(function () {
      var video = el['doc-preview'];
      el.docframe.style.setProperty('--video-aspect', String(video.videoWidth / video.videoHeight));
    });
    return opened.then(function () {
      el.docframe.hidden = false;
      watchDocument();
    }, function (error) {
      stopCamera();
      // Without a camera a file still does, where the workflow allows one.
      if (state.scan.upload) return showUpload();
      throw error;
    });
  }

  var docProbe = document.createElement('canvas');

  // The part of the camera image inside the outline, in pixels.
  function outlineRect(video) {
    var w = video.videoWidth * OUTLINE_WIDTH;
    var h = Math.min(video.videoHeight * 0.9, w / OUTLINE_ASPECT);
    return { x: (video.videoWidth - w) / 2, y: (video.videoHeight - h) / 2, w: w, h: h };
  }

  // What the outline shows now: brightness, glare, motion since the last
  // look, sharpness, and how much of it the document's edges span.
  function lookAtDocument() {
    var video = el['doc-preview'];
    if (!video.videoWidth) return null;
    var r = outlineRect(video);
    var w = DOC_PROBE_WIDTH;
    var h = Math.max(1, Math.round(w * r.h / r.w));
    docProbe.width = w;
    docProbe.height = h;
    var ctx = docProbe.getContext('2d', { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(video, r.x, r.y, r.w, r.h, 0, 0, w, h);
    var rgba = ctx.getImageData(0, 0, w, h).data;
    var grey = new Float32Array(w * h);
    var sum = 0;
    for (var i = 0; i < w * h; i++) {
      var g = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
      grey[i] = g;
      sum += g;
    }
    var motion = 0;
    if (doc.previous && doc.previous.length === grey.length) {
      for (var k = 0; k < grey.length; k++) motion += Math.abs(grey[k] - doc.previous[k]);
      motion /= grey.length;
    } else {
      motion = Infinity;
    }
    doc.previous = grey;
    // Sharpness: the mean absolute Laplacian; edge extent: where the
    // gradient is strong, per column and per row.
    var laplace = 0;
    var burnt = 0;
    var columns = new Float32Array(w);
    var rows = new Float32Array(h);
    var g3 = DOC_LIMITS.glareGap;
    var level = DOC_LIMITS.glareLevel;
    for (var y = 1; y < h - 1; y++) {
      for (var x = 1; x < w - 1; x++) {
        var at = y * w + x;
        var c = grey[at];
        // Glare washes out a patch: burnt out here and all around, where
        // white paper keeps its print within a few pixels.
        if (c >= level && x >= g3 && y >= g3 && x < w - g3 && y < h - g3 &&
          grey[at - g3] >= level && grey[at + g3] >= level &&
          grey[at - g3 * w] >= level && grey[at + g3 * w] >= level) {
          burnt++;
        }
        laplace += Math.abs(4 * c - grey[at - 1] - grey[at + 1] - grey[at - w] - grey[at + w]);
        var gradient = Math.abs(grey[at + 1] - grey[at - 1]) + Math.abs(grey[at + w] - grey[at - w]);
        if (gradient > 40) {
          columns[x] += 1;
          rows[y] += 1;
        }
      }
    }
    laplace /= Math.max(1, (w - 2) * (h - 2));
    return {
      brightness: sum / (w * h),
      glare: burnt / (w * h),
      motion: motion,
      sharpness: laplace,
      fill: Math.min(span(columns), span(rows))
    };
  }

  // The share of a profile between its first and last clearly busy entry.
  function span(profile) {
    var peak = 0;
    for (var i = 0; i < profile.length; i++) peak = Math.max(peak, profile[i]);
    if (!peak) return 0;
    var first = -1;
    var last = -1;
    for (var j = 0; j < profile.length; j++) {
      if (profile[j] >= 0.15 * peak) {
        if (first < 0) first = j;
        last = j;
      }
    }
    return (last - first + 1) / profile.length;
  }

  // The hint for a look, or null when the picture is good to take.
  function documentAdvice(look) {
    if (look.brightness < DOC_LIMITS.dark) return 'docHintDark';
    if (look.glare > DOC_LIMITS.glareShare) return 'docHintGlare';
    if (look.motion > DOC_LIMITS.motion) return 'docHintHoldStill';
    if (look.fill < DOC_LIMITS.fill) return 'docHintCloser';
    if (look.sharpness < DOC_LIMITS.sharp) return 'docHintBlurred';
    return null;
  }

  function watchDocument() {
    stopDocumentWatch();
    doc.good = 0;
    doc.previous = null;
    doc.startedAt = performance.now();
    doc.timer = setInterval(function () {
      if (state.ended || doc.capturing) return;
      if (cameraStopped()) {
        fail(E.CAMERA);
        return;
      }
      var look = lookAtDocument();
      if (!look) return;
      var advice = documentAdvice(look);
      if (advice) {
        doc.good = 0;
        hint(t(advice), 'warn');
        return;
      }
      doc.good += 1;
      hint(t('docHintGood'));
      if (doc.good >= DOC_STEADY_LOOKS && performance.now() - doc.startedAt >= DOC_WARM_UP_MS) {
        takeDocumentPhoto();
      }
    }, DOC_TICK_MS);
  }

  function stopDocumentWatch() {
    if (doc.timer !== null) clearInterval(doc.timer);
    doc.timer = null;
  }

  // The whole camera image (the server finds the document in it), as a JPEG.
  function takeDocumentPhoto() {
    var video = el['doc-preview'];
    if (doc.capturing || !video.videoWidth) return;
    doc.capturing = true;
    stopDocumentWatch();
    encodeJpeg(video, video.videoWidth, video.videoHeight).then(function (blob) {
      doc.capturing = false;
      if (!blob) throw new Failure(E.CLIENT);
      showReview(blob);
    }).catch(function (error) {
      doc.capturing = false;
      fail(codeOf(error, 'document'));
    });
  }

  var docCanvas = document.createElement('canvas');

  // Draws `source` (a video or a decoded image of width × height) at most
  // DOC_MAX_SIDE on its longest side; answers a promise of its JPEG.
  function encodeJpeg(source, width, height) {
    var scale = Math.min(1, DOC_MAX_SIDE / Math.max(width, height));
    docCanvas.width = Math.max(1, Math.round(width * scale));
    docCanvas.height = Math.max(1, Math.round(height * scale));
    var ctx = docCanvas.getContext('2d');
    if (!ctx) return Promise.resolve(null);
    ctx.drawImage(source, 0, 0, docCanvas.width, docCanvas.height);
    return new Promise(function (resolve) { docCanvas.toBlob(resolve, 'image/jpeg', 0.92); });
  }

  // A chosen file: sent as it is when it is a JPEG or PNG within the limits,
  // otherwise decoded here and sent as a JPEG of at most DOC_MAX_SIDE.
  function fileChosen() {
    var file = el.file.files && el.file.files[0];
    el['upload-error'].textContent = '';
    if (!file) return;
    var limits = documentLimits();
    var asIs = (file.type === 'image/jpeg' || file.type === 'image/png') && file.size <= limits.maxBytes;
    if (typeof createImageBitmap !== 'function') {
      if (asIs) showReview(file);
      else refuseFile('docRejectedSize');
      return;
    }
    createImageBitmap(file).then(function (bitmap) {
      var w = bitmap.width;
      var h = bitmap.height;
      if (Math.min(w, h) < limits.minSide) {
        refuseFile('docRejectedFile');
        return null;
      }
      if (asIs && Math.max(w, h) <= limits.maxSide) return file;
      return encodeJpeg(bitmap, w, h);
    }, function () {
      refuseFile('docRejectedFile');
      return null;
    }).then(function (blob) {
      if (blob) showReview(blob);
    });
  }

  function refuseFile(key) {
    el.file.value = '';
    el['upload-error'].textContent = t(key);
    announce(t(key));
  }

  function forgetReview() {
    if (doc.reviewUrl) URL.revokeObjectURL(doc.reviewUrl);
    doc.reviewUrl = null;
    doc.blob = null;
    el['review-image'].removeAttribute('src');
  }

  function showReview(blob) {
    forgetReview();
    doc.blob = blob;
    doc.reviewUrl = URL.createObjectURL(blob);
    el['review-image'].src = doc.reviewUrl;
    el.docframe.hidden = true;
    hint('');
    instruct('');
    el['review-yes'].disabled = false;
    el.app.setAttribute('data-state', 'review');
    show('panel-review');
    el['review-title'].focus();
  }

  // Sends the reviewed side; the answer is the session with the sides now
  // needed (a card's back once the front names the type).
  function sendSide() {
    if (doc.sending || !doc.blob) return;
    doc.sending = true;
    el['review-yes'].disabled = true;
    el.app.setAttribute('data-state', 'sending');
    instruct(t('sending'));
    var headers = { 'Capture-Method': doc.method };
    if (doc.side === 'front' && doc.documentType) headers['Capture-Document-Type'] = doc.documentType;
    call('PUT', API + '/documents/' + doc.side, { bearer: true, blob: doc.blob, headers: headers })
      .then(function (session) {
        doc.sending = false;
        if (!session.scan || !isScan(session.scan)) throw new Failure(E.ANSWER);
        state.scan = session.scan;
        if (session.scan.documentType) doc.documentType = session.scan.documentType;
        forgetReview();
        var side = nextSide();
        if (side) return startSide(side, doc.method);
        return documentsDone();
      }, function (error) {
        doc.sending = false;
        var problem = error instanceof HttpFailure ? error.problem : null;
        // A picture the server cannot take: say why and ask for another.
        if (problem === 'DOCUMENT_INVALID' || problem === 'DOCUMENT_TOO_LARGE') {
          var key = problem === 'DOCUMENT_TOO_LARGE' ? 'docRejectedSize' : 'docRejectedFile';
          return startSide(doc.side, doc.method).then(function () {
            var target = doc.method === 'UPLOAD' ? el['upload-error'] : el['document-error'];
            target.textContent = t(key);
            announce(t(key));
          });
        }
        throw error;
      })
      .catch(function (error) {
        fail(codeOf(error, 'document'));
      });
  }

  // Every side is given: the selfie, or (ID only) the end of the capture.
  function documentsDone() {
    stopCamera();
    el.docframe.hidden = true;
    hint('');
    if (state.scan.selfie) return startSelfie();
    el.app.setAttribute('data-state', 'sending');
    instruct(t('sending'));
    return call('POST', API + '/scan/finish', { bearer: true }).then(function (answer) {
      var redirect = answer.redirect && typeof answer.redirect === 'object' ? answer.redirect : null;
      complete('PASSED', redirect);
    }, function (error) {
      fail(codeOf(error, 'finish'));
    });
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
        if (session.scan && typeof session.scan === 'object') {
          if (!isScan(session.scan)) throw new Failure(E.ANSWER);
          state.scan = session.scan;
          state.customerInternalReference = typeof session.scan.customerInternalReference === 'string'
            ? session.scan.customerInternalReference : null;
        }
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
      if (state.scan) return startScan();
      return startSelfie();
    }).catch(function (error) {
      fail(codeOf(error, 'session'));
    });
  }

  // The liveness capture: the camera, then the ready screen.
  function startSelfie() {
    // A transaction still open with its attempts used up (the user left or
    // reloaded during each): no capture can follow.
    if (state.attemptsUsed >= state.maxAttempts) throw new Failure(E.CAPTURE_FAILED);
    instruct(t('cameraRequest'));
    return openCamera().then(showReady);
  }

  main();
})();
