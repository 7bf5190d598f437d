/* Video visit: device check, waiting room and a 1:1 WebRTC call.
 *
 * Media flows browser to browser (DTLS-SRTP); the server only relays signaling over the
 * WebSocket (see modules/video/signaling.py for the protocol). The specialist always makes the
 * offer; each new peer connection has a generation number ("gen") so that messages of an older
 * connection (before a reload) are ignored. No inline script: the page passes its data in
 * data-* attributes and a JSON block (the Content-Security-Policy forbids inline scripts).
 */
(function () {
  "use strict";

  var root = document.getElementById("video-room");
  if (!root) return;
  var T = JSON.parse(document.getElementById("video-texts").textContent);
  var role = root.dataset.role;
  var screenShareAllowed = root.dataset.screenShare === "on" && !!(navigator.mediaDevices &&
    navigator.mediaDevices.getDisplayMedia);

  function $(id) { return document.getElementById(id); }

  var state = {
    ws: null, pc: null, gen: 0, local: null, screen: null, iceServers: [],
    admitted: false, peerConn: null, peerPresent: false, peerAdmitted: false,
    finished: false, statsTimer: null, pendingCandidates: []
  };
  // Tests and support staff read the connection from here (same origin only).
  window.videoCall = state;

  function show(stage) {
    root.querySelectorAll(".video-stage").forEach(function (el) {
      el.hidden = el.dataset.stage !== stage;
    });
    root.dataset.current = stage;
  }

  function status(text) { $("video-status").textContent = text || ""; }

  // --- device check ---------------------------------------------------------------------

  function fillSelect(select, devices, current) {
    select.textContent = "";
    devices.forEach(function (d, i) {
      var option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || (T.defaultDevice + " " + (i + 1));
      if (d.deviceId === current) option.selected = true;
      select.appendChild(option);
    });
    select.disabled = devices.length === 0;
  }

  function trackDevice(kind) {
    var track = state.local && (kind === "audio" ? state.local.getAudioTracks()[0]
                                                 : state.local.getVideoTracks()[0]);
    return track && track.getSettings ? track.getSettings().deviceId : undefined;
  }

  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (all) {
      fillSelect($("video-camera"), all.filter(function (d) { return d.kind === "videoinput"; }),
                 trackDevice("video"));
      fillSelect($("video-microphone"),
                 all.filter(function (d) { return d.kind === "audioinput"; }), trackDevice("audio"));
      var speakers = all.filter(function (d) { return d.kind === "audiooutput"; });
      fillSelect($("video-speaker"), speakers, undefined);
      if (!("setSinkId" in HTMLMediaElement.prototype)) $("video-speaker").disabled = true;
    });
  }

  var meter = null;
  function watchLevel(stream) {
    if (meter) { meter.close(); meter = null; }
    var track = stream.getAudioTracks()[0];
    if (!track || !window.AudioContext) return;
    meter = new AudioContext();
    var analyser = meter.createAnalyser();
    meter.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    var data = new Uint8Array(analyser.fftSize);
    var ctx = meter;
    (function tick() {
      if (ctx.state === "closed") return;
      analyser.getByteTimeDomainData(data);
      var peak = 0;
      for (var i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i] - 128) / 128);
      $("video-level").value = peak;
      setTimeout(tick, 150);
    })();
  }

  function openDevices() {
    var cam = $("video-camera").value, mic = $("video-microphone").value;
    var constraints = {
      video: cam ? { deviceId: { exact: cam } } : true,
      audio: mic ? { deviceId: { exact: mic } } : true
    };
    if (state.local) state.local.getTracks().forEach(function (t) { t.stop(); });
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      state.local = stream;
      $("video-preview").srcObject = stream;
      $("video-local").srcObject = stream;
      $("video-denied").hidden = true;
      $("video-join").disabled = false;
      watchLevel(stream);
      replaceSenders();
      return listDevices();
    }, function (err) {
      if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
        $("video-denied").hidden = false;
      } else if (err && err.name === "NotFoundError") {
        status(T.noDevices);
        state.local = new MediaStream();
        $("video-join").disabled = false;
      } else {
        $("video-denied").hidden = false;
      }
    });
  }

  function replaceSenders() {
    if (!state.pc || !state.local) return;
    state.pc.getSenders().forEach(function (sender) {
      if (!sender.track) return;
      var next = sender.track.kind === "audio" ? state.local.getAudioTracks()[0]
                                                : (state.screen ? null : state.local.getVideoTracks()[0]);
      if (next) sender.replaceTrack(next);
    });
  }

  $("video-camera").addEventListener("change", openDevices);
  $("video-microphone").addEventListener("change", openDevices);
  $("video-speaker").addEventListener("change", function () {
    var v = $("video-remote");
    if (v.setSinkId) v.setSinkId(this.value);
  });
  $("video-retry").addEventListener("click", openDevices);

  // --- signaling --------------------------------------------------------------------------

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + root.dataset.ws);
    state.ws = ws;
    status(T.connecting);
    ws.onmessage = function (event) { onSignal(JSON.parse(event.data)); };
    ws.onclose = function () {
      if (state.ws !== ws || state.finished) return;
      status(T.reconnecting);
      setTimeout(function () { if (!state.finished) connect(); }, 1500);
    };
  }

  function onSignal(m) {
    switch (m.type) {
      case "welcome":
        state.iceServers = m.iceServers || [];
        state.admitted = !!m.admitted;
        if (role === "patient" && !state.admitted) show("waiting");
        else { show("call"); status(T.waitingPeer); }
        break;
      case "joined":
      case "present":
        state.peerConn = m.sender;
        state.peerPresent = true;
        if (m.type === "joined") send({ type: "present" });
        if (role === "specialist") {
          state.peerAdmitted = !!m.admitted;
          $("video-admit-box").hidden = state.peerAdmitted;
          if (state.peerAdmitted) startOffer(); else status(T.peerWaiting);
        } else if (m.type === "joined") {
          closePeer(); // the specialist (re)joined: their offer makes a new connection
        }
        break;
      case "admitted":
        state.admitted = true;
        if (role === "patient") { show("call"); status(T.waitingPeer); }
        else {
          state.peerAdmitted = true;
          $("video-admit-box").hidden = true;
          if (state.peerPresent) startOffer();
        }
        break;
      case "offer": onOffer(m); break;
      case "answer":
        if (state.pc && m.gen === state.gen) {
          state.pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).then(flushCandidates);
        }
        break;
      case "candidate":
        if (m.gen !== state.gen || !m.candidate) break;
        if (state.pc && state.pc.remoteDescription) state.pc.addIceCandidate(m.candidate);
        else state.pendingCandidates.push(m.candidate);
        break;
      case "media":
        if (m.audio === false) status(T.peerMuted);
        else if (m.video === false) status(T.peerCameraOff);
        else if (state.pc && state.pc.connectionState === "connected") status(T.connected);
        break;
      case "left":
        if (m.sender !== state.peerConn) break; // an older connection of theirs closing late
        state.peerPresent = false;
        closePeer();
        status(T.peerLeft);
        if (role === "specialist") $("video-admit-box").hidden = true;
        break;
      case "ended": finish(T.ended, false); break;
      case "replaced": finish(T.replaced, true); break;
      case "refused": finish(T.refused, false); break;
    }
  }

  // --- the peer connection ---------------------------------------------------------------

  function closePeer() {
    if (state.pc) { state.pc.close(); state.pc = null; }
    if (state.statsTimer) { clearInterval(state.statsTimer); state.statsTimer = null; }
    $("video-remote").srcObject = null;
    state.pendingCandidates = [];
  }

  function newPeer(gen) {
    closePeer();
    state.gen = gen;
    var pc = new RTCPeerConnection({ iceServers: state.iceServers });
    state.pc = pc;
    if (state.local) {
      state.local.getTracks().forEach(function (t) {
        var track = (t.kind === "video" && state.screen) ? state.screen.getVideoTracks()[0] : t;
        pc.addTrack(track, state.local);
      });
    }
    if (!state.local || state.local.getVideoTracks().length === 0) {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    if (!state.local || state.local.getAudioTracks().length === 0) {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    pc.onicecandidate = function (e) {
      if (e.candidate && state.pc === pc) send({ type: "candidate", candidate: e.candidate.toJSON(), gen: gen });
    };
    pc.ontrack = function (e) {
      var v = $("video-remote");
      if (v.srcObject !== e.streams[0]) v.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    pc.onconnectionstatechange = function () {
      if (state.pc !== pc) return;
      if (pc.connectionState === "connected") { status(T.connected); watchQuality(pc); }
      if (pc.connectionState === "failed" && role === "specialist" && state.peerPresent) startOffer();
    };
    return pc;
  }

  function startOffer() {
    var pc = newPeer(state.gen + 1 + Math.floor(Math.random() * 1000));
    var gen = state.gen;
    pc.createOffer().then(function (offer) {
      return pc.setLocalDescription(offer);
    }).then(function () {
      send({ type: "offer", sdp: pc.localDescription.sdp, gen: gen });
    });
  }

  function onOffer(m) {
    var pc = newPeer(m.gen);
    pc.setRemoteDescription({ type: "offer", sdp: m.sdp }).then(function () {
      flushCandidates();
      return pc.createAnswer();
    }).then(function (answer) {
      return pc.setLocalDescription(answer);
    }).then(function () {
      send({ type: "answer", sdp: pc.localDescription.sdp, gen: m.gen });
    });
  }

  function flushCandidates() {
    var pc = state.pc;
    if (!pc) return;
    state.pendingCandidates.splice(0).forEach(function (c) { pc.addIceCandidate(c); });
  }

  function watchQuality(pc) {
    if (state.statsTimer) clearInterval(state.statsTimer);
    var last = null;
    state.statsTimer = setInterval(function () {
      pc.getStats().then(function (report) {
        var rtt = null, lost = 0, received = 0;
        report.forEach(function (r) {
          if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) rtt = r.currentRoundTripTime;
          if (r.type === "inbound-rtp") { lost += r.packetsLost || 0; received += r.packetsReceived || 0; }
        });
        var lossRate = 0;
        if (last) {
          var dl = lost - last.lost, dr = received - last.received;
          lossRate = dl + dr > 0 ? dl / (dl + dr) : 0;
        }
        last = { lost: lost, received: received };
        var q = "good";
        if ((rtt !== null && rtt > 0.4) || lossRate > 0.08) q = "poor";
        else if ((rtt !== null && rtt > 0.15) || lossRate > 0.02) q = "fair";
        var el = $("video-quality");
        el.dataset.quality = q;
        el.textContent = q === "good" ? T.qualityGood : q === "fair" ? T.qualityFair : T.qualityPoor;
      });
    }, 2000);
  }

  // --- controls ---------------------------------------------------------------------------

  function mediaState() {
    var a = state.local && state.local.getAudioTracks()[0];
    var v = state.local && state.local.getVideoTracks()[0];
    send({ type: "media", audio: a ? a.enabled : false, video: v ? v.enabled : false,
           screen: !!state.screen });
  }

  $("video-mute").addEventListener("click", function () {
    var a = state.local && state.local.getAudioTracks()[0];
    if (!a) return;
    a.enabled = !a.enabled;
    this.textContent = a.enabled ? T.mute : T.unmute;
    this.setAttribute("aria-pressed", String(!a.enabled));
    mediaState();
  });

  $("video-camera-toggle").addEventListener("click", function () {
    var v = state.local && state.local.getVideoTracks()[0];
    if (!v) return;
    v.enabled = !v.enabled;
    this.textContent = v.enabled ? T.cameraOff : T.cameraOn;
    this.setAttribute("aria-pressed", String(!v.enabled));
    mediaState();
  });

  function stopShare() {
    if (!state.screen) return;
    state.screen.getTracks().forEach(function (t) { t.stop(); });
    state.screen = null;
    var button = $("video-share");
    button.textContent = T.share;
    button.setAttribute("aria-pressed", "false");
    replaceVideo(state.local && state.local.getVideoTracks()[0]);
    mediaState();
  }

  function replaceVideo(track) {
    if (!state.pc || !track) return;
    state.pc.getSenders().forEach(function (s) {
      if (s.track && s.track.kind === "video") s.replaceTrack(track);
    });
  }

  var shareButton = $("video-share");
  if (shareButton) {
    if (!screenShareAllowed) shareButton.hidden = true;
    shareButton.addEventListener("click", function () {
      if (state.screen) { stopShare(); return; }
      navigator.mediaDevices.getDisplayMedia({ video: true }).then(function (stream) {
        state.screen = stream;
        var track = stream.getVideoTracks()[0];
        track.addEventListener("ended", stopShare);
        replaceVideo(track);
        shareButton.textContent = T.stopShare;
        shareButton.setAttribute("aria-pressed", "true");
        mediaState();
      }, function () { /* the user closed the picker */ });
    });
  }

  function finish(text, canRejoin) {
    state.finished = true;
    closePeer();
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(); }
    if (state.local) state.local.getTracks().forEach(function (t) { t.stop(); });
    stopShare();
    $("video-over-title").textContent = text;
    $("video-rejoin").hidden = !canRejoin;
    show("over");
  }

  $("video-hangup").addEventListener("click", function () {
    send({ type: "leave" });
    finish(T.hungUp, true);
  });

  var endButton = $("video-end");
  if (endButton) {
    endButton.addEventListener("click", function () {
      if (window.confirm(T.confirmEnd)) send({ type: "end" });
    });
  }
  var admitButton = $("video-admit");
  if (admitButton) admitButton.addEventListener("click", function () { send({ type: "admit" }); });

  $("video-join").addEventListener("click", function () {
    // The waiting room or the call shows once the server has taken the join (welcome).
    if (meter) { meter.close(); meter = null; }
    this.disabled = true;
    this.textContent = T.connecting;
    connect();
  });

  show("check");
  if (!navigator.mediaDevices || !window.RTCPeerConnection) {
    $("video-denied").hidden = false;
    return;
  }
  openDevices();
  navigator.mediaDevices.addEventListener("devicechange", listDevices);
})();
