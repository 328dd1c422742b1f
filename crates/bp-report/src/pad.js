// The drawing pad: reads the embedded model, prepares a drawing as
// `cargo xtask predict` prepares an image, runs the net's forward pass and
// shows the softmax probabilities. Everything is local: nothing is fetched.
(function () {
  "use strict";

  // Preparation: bp_data::digit::prepare_digit step for step, with its
  // constants, and f32 arithmetic (Math.fround) where it computes in f32, so
  // that both give the same 28x28 bytes.
  var SIDE = 28; // the prepared field (DIGIT_SIDE)
  var BOX = 20; // the ink's longer side after scaling (DIGIT_BOX)
  var MIN_CONTRAST = 32; // fewest levels the ink must stand out by
  var INK_THRESHOLD = 32; // ink level a pixel must exceed to count for the crop
  var CENTRE = 14; // where the centre of mass goes, as row and column index
  var f32 = Math.fround;

  var model = JSON.parse(document.getElementById("bp-model").textContent);
  var W = model.image[0];
  var H = model.image[1];

  function decodeF32(text) {
    var bin = atob(text);
    var view = new DataView(new ArrayBuffer(bin.length));
    for (var i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
    var out = new Float32Array(bin.length / 4);
    for (var k = 0; k < out.length; k++) out[k] = view.getFloat32(4 * k, true);
    return out;
  }

  var layers = model.layers.map(function (l) {
    return {
      inputs: l.inputs,
      outputs: l.outputs,
      w: decodeF32(l.weights),
      b: decodeF32(l.bias),
    };
  });

  // Affine layers with the hidden activation between them, softmax at the end.
  function forward(input) {
    var a = input;
    for (var li = 0; li < layers.length; li++) {
      var l = layers[li];
      var y = new Float64Array(l.outputs);
      for (var j = 0; j < l.outputs; j++) y[j] = l.b[j];
      for (var i = 0; i < l.inputs; i++) {
        var xi = a[i];
        if (xi === 0) continue;
        var row = i * l.outputs;
        for (var j2 = 0; j2 < l.outputs; j2++) y[j2] += xi * l.w[row + j2];
      }
      if (li + 1 < layers.length) {
        for (var h = 0; h < y.length; h++) {
          y[h] = model.activation === "sigmoid" ? 1 / (1 + Math.exp(-y[h])) : Math.max(0, y[h]);
        }
      }
      a = y;
    }
    var max = -Infinity;
    for (var m = 0; m < a.length; m++) max = Math.max(max, a[m]);
    var sum = 0;
    var p = new Array(a.length);
    for (var k = 0; k < a.length; k++) {
      p[k] = Math.exp(a[k] - max);
      sum += p[k];
    }
    for (var k2 = 0; k2 < p.length; k2++) p[k2] /= sum;
    return p;
  }

  // Rust's f64::round: halves away from zero (Math.round takes them up).
  function roundHalfAway(x) {
    return x < 0 ? -Math.round(-x) : Math.round(x);
  }

  // The median of the outermost ring of pixels (all of them when the image
  // is one or two pixels thin): the background.
  function ringMedian(grey, w, h) {
    var counts = new Array(256).fill(0);
    if (w <= 2 || h <= 2) {
      for (var i = 0; i < grey.length; i++) counts[grey[i]]++;
    } else {
      for (var x = 0; x < w; x++) {
        counts[grey[x]]++;
        counts[grey[(h - 1) * w + x]]++;
      }
      for (var y = 1; y < h - 1; y++) {
        counts[grey[y * w]]++;
        counts[grey[y * w + w - 1]]++;
      }
    }
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var seen = 0;
    for (var v = 0; v < 256; v++) {
      seen += counts[v];
      if (2 * seen > total) return v;
    }
    return 255;
  }

  // Ink levels: inverted when the background is light, the background
  // mapped to 0 and full ink (the 95th percentile of the ink) to 255; null
  // when nothing stands out from the background.
  function inkLevels(grey, w, h) {
    var median = ringMedian(grey, w, h);
    var light = median > 127;
    var orient = function (v) { return light ? 255 - v : v; };
    var background = orient(median);
    var counts = new Array(256).fill(0);
    for (var i = 0; i < grey.length; i++) counts[orient(grey[i])]++;
    var strongest = 0;
    for (var s = 255; s >= 0; s--) {
      if (counts[s] > 0) { strongest = s; break; }
    }
    if (Math.max(0, strongest - background) < MIN_CONTRAST) return null;
    var inkFrom = background + MIN_CONTRAST;
    var inkTotal = 0;
    for (var t = inkFrom; t < 256; t++) inkTotal += counts[t];
    var seen = 0;
    var peak = strongest;
    for (var v = 255; v >= inkFrom; v--) {
      seen += counts[v];
      if (seen * 20 > inkTotal) { peak = v; break; }
    }
    var contrast = peak - background;
    var lut = new Array(256);
    for (var u = 0; u < 256; u++) {
      var above = Math.max(0, orient(u) - background);
      lut[u] = Math.min(255, Math.floor((above * 255 + Math.floor(contrast / 2)) / contrast));
    }
    var out = new Uint8Array(grey.length);
    for (var k = 0; k < grey.length; k++) out[k] = lut[grey[k]];
    return out;
  }

  // Bounding box [x0, y0, x1, y1) of the pixels above the ink threshold, or null.
  function inkBox(ink, w, h) {
    var box = null;
    for (var y = 0; y < h; y++) {
      var first = -1, last = -1;
      for (var x = 0; x < w; x++) {
        if (ink[y * w + x] > INK_THRESHOLD) {
          if (first < 0) first = x;
          last = x;
        }
      }
      if (first < 0) continue;
      if (!box) box = [first, y, last + 1, y + 1];
      else box = [Math.min(box[0], first), box[1], Math.max(box[2], last + 1), y + 1];
    }
    return box;
  }

  // For each of m output samples along an axis of n: the input samples and
  // their (f32) weights, area averaging when shrinking, bilinear when enlarging.
  function axisWeights(n, m) {
    var scale = n / m;
    var taps = [];
    for (var j = 0; j < m; j++) {
      if (m === n) {
        taps.push([[j, 1]]);
      } else if (m < n) {
        var lo = j * scale, hi = (j + 1) * scale;
        var first = Math.floor(lo), last = Math.min(Math.ceil(hi), n);
        var list = [];
        for (var i = first; i < last; i++) {
          var overlap = Math.min(hi, i + 1) - Math.max(lo, i);
          var wt = f32(overlap / scale);
          if (wt > 0) list.push([i, wt]);
        }
        taps.push(list);
      } else {
        var x = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), n - 1);
        var i0 = Math.floor(x);
        var i1 = Math.min(i0 + 1, n - 1);
        var f = f32(x - i0);
        taps.push([[i0, f32(1 - f)], [i1, f]]);
      }
    }
    return taps;
  }

  // Resamples a w x h (f32) image to tw x th, across then down, in f32.
  function resize(src, w, h, tw, th) {
    var across = axisWeights(w, tw);
    var wide = new Float32Array(tw * h);
    for (var y = 0; y < h; y++) {
      for (var o = 0; o < tw; o++) {
        var acc = 0;
        var taps = across[o];
        for (var t = 0; t < taps.length; t++) acc = f32(acc + f32(src[y * w + taps[t][0]] * taps[t][1]));
        wide[y * tw + o] = acc;
      }
    }
    var down = axisWeights(h, th);
    var out = new Float32Array(tw * th);
    for (var r = 0; r < th; r++) {
      var dt = down[r];
      for (var d = 0; d < dt.length; d++) {
        var i = dt[d][0], wt = dt[d][1];
        for (var x = 0; x < tw; x++) {
          out[r * tw + x] = f32(out[r * tw + x] + f32(wide[i * tw + x] * wt));
        }
      }
    }
    return out;
  }

  // Shifts a w x h box by whole pixels into the SIDE x SIDE field so that
  // its centre of mass lands within half a pixel of (CENTRE, CENTRE).
  function placeCentred(px, w, h) {
    var mass = 0, sumR = 0, sumC = 0;
    for (var r = 0; r < h; r++) {
      for (var c = 0; c < w; c++) {
        var v = px[r * w + c];
        mass += v;
        sumR += v * r;
        sumC += v * c;
      }
    }
    var comR = mass > 0 ? sumR / mass : (h - 1) / 2;
    var comC = mass > 0 ? sumC / mass : (w - 1) / 2;
    var top = roundHalfAway(CENTRE - comR);
    var left = roundHalfAway(CENTRE - comC);
    var field = new Uint8Array(SIDE * SIDE);
    for (var r2 = 0; r2 < h; r2++) {
      var y = r2 + top;
      if (y < 0 || y >= SIDE) continue;
      for (var c2 = 0; c2 < w; c2++) {
        var x = c2 + left;
        if (x >= 0 && x < SIDE) field[y * SIDE + x] = px[r2 * w + c2];
      }
    }
    return field;
  }

  // A w x h greyscale image (row-major bytes) to the 28x28 MNIST-style digit
  // (0 background, 255 ink), or null when it has no ink.
  function prepareDigit(grey, w, h) {
    var ink = inkLevels(grey, w, h);
    if (!ink) return null;
    var box = inkBox(ink, w, h);
    if (!box) return null;
    var cw = box[2] - box[0], ch = box[3] - box[1];
    var crop = new Float32Array(cw * ch);
    for (var y = 0; y < ch; y++) {
      for (var x = 0; x < cw; x++) crop[y * cw + x] = ink[(box[1] + y) * w + box[0] + x];
    }
    var long = Math.max(cw, ch);
    var side = function (n) {
      return Math.min(Math.max(Math.floor((n * BOX + Math.floor(long / 2)) / long), 1), BOX);
    };
    var tw = side(cw), th = side(ch);
    var scaled = resize(crop, cw, ch, tw, th);
    var bytes = new Uint8Array(tw * th);
    for (var k = 0; k < bytes.length; k++) bytes[k] = Math.min(Math.max(Math.round(scaled[k]), 0), 255);
    return placeCentred(bytes, tw, th);
  }

  // The net's input for a drawing: the prepared digit / 255, or null.
  function prepare(w, h, grey) {
    var digit = prepareDigit(grey, w, h);
    if (!digit) return null;
    var out = new Array(digit.length);
    for (var i = 0; i < digit.length; i++) out[i] = digit[i] / 255;
    return out;
  }

  var canvas = document.getElementById("pad-canvas");
  var ctx = canvas.getContext("2d", { willReadFrequently: true });
  var preview = document.getElementById("pad-input");
  var pctx = preview.getContext("2d");
  var rows = model.classes.map(function (_, k) {
    var row = document.getElementById("pad-bar-" + k);
    return { row: row, fill: row.querySelector(".fill"), pct: row.querySelector(".pct") };
  });
  var verdict = document.getElementById("pad-prediction");
  var state = { probs: [], predicted: -1, prepared: null };

  function show() {
    var p = state.probs;
    rows.forEach(function (r, k) {
      var v = p.length ? p[k] : 0;
      r.fill.style.width = (100 * v).toFixed(1) + "%";
      r.pct.textContent = p.length ? (100 * v).toFixed(1) + "%" : "-";
      r.row.classList.toggle("top", k === state.predicted);
    });
    verdict.textContent =
      state.predicted < 0
        ? "Draw a digit"
        : model.classes[state.predicted] + " (" + (100 * p[state.predicted]).toFixed(1) + "%)";
    var img = pctx.createImageData(W, H);
    for (var i = 0; i < W * H; i++) {
      var g = state.prepared ? Math.round(255 * state.prepared[i]) : 0;
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
      img.data[4 * i + 3] = 255;
    }
    pctx.putImageData(img, 0, 0);
  }

  function run(w, h, grey) {
    // The preparation makes 28x28 digits: a net for other sizes cannot read them.
    state.prepared = W === SIDE && H === SIDE ? prepare(w, h, grey) : null;
    state.probs = state.prepared ? forward(state.prepared) : [];
    state.predicted = -1;
    for (var k = 0; k < state.probs.length; k++) {
      if (state.predicted < 0 || state.probs[k] > state.probs[state.predicted]) state.predicted = k;
    }
    show();
    return state.predicted;
  }

  function fromCanvas() {
    var data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var grey = new Uint8Array(canvas.width * canvas.height);
    for (var i = 0; i < grey.length; i++) {
      // The image crate's luma (what `cargo xtask predict` reads a colour PNG as).
      grey[i] = Math.floor((2126 * data[4 * i] + 7152 * data[4 * i + 1] + 722 * data[4 * i + 2]) / 10000);
    }
    return run(canvas.width, canvas.height, grey);
  }

  function clear() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    state = { probs: [], predicted: -1, prepared: null };
    show();
  }

  // Drawing with Pointer Events (mouse, pen and touch alike).
  var drawing = false;
  var last = null;
  var pending = false;
  function point(e) {
    var r = canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * canvas.width) / r.width,
      y: ((e.clientY - r.top) * canvas.height) / r.height,
    };
  }
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      fromCanvas();
    });
  }
  function stroke(p) {
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = 22;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (last) {
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    } else {
      ctx.beginPath();
      ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    last = p;
    schedule();
  }
  canvas.addEventListener("pointerdown", function (e) {
    e.preventDefault();
    drawing = true;
    last = null;
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch (_) {
      // A synthetic pointer cannot be captured; drawing works without it.
    }
    stroke(point(e));
  });
  canvas.addEventListener("pointermove", function (e) {
    if (drawing) stroke(point(e));
  });
  function end() {
    drawing = false;
    last = null;
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  document.getElementById("pad-clear").addEventListener("click", clear);

  // Shows a greyscale image on the pad, scaled to fit, as a picture of it.
  function paint(w, h, grey) {
    var tmp = document.createElement("canvas");
    tmp.width = w;
    tmp.height = h;
    var t = tmp.getContext("2d");
    var img = t.createImageData(w, h);
    for (var i = 0; i < w * h; i++) {
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = grey[i];
      img.data[4 * i + 3] = 255;
    }
    t.putImageData(img, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    var s = Math.min(canvas.width / w, canvas.height / h);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tmp, (canvas.width - w * s) / 2, (canvas.height - h * s) / 2, w * s, h * s);
  }

  // The API tests drive the pad with.
  window.bpPad = {
    // Prepares and classifies a w x h greyscale image (row-major bytes) as a
    // drawing would be, shows it on the pad and returns the predicted class.
    setImage: function (w, h, grey) {
      if (!(w > 0 && h > 0 && Math.floor(w) === w && Math.floor(h) === h) || grey.length !== w * h) {
        throw new Error("setImage needs width * height grey values");
      }
      var bytes = Uint8Array.from(grey);
      paint(w, h, bytes);
      return run(w, h, bytes);
    },
    // The softmax probabilities of the last prediction ([] when nothing is drawn).
    probs: function () {
      return state.probs.slice();
    },
    // The predicted class, or -1 when nothing is drawn.
    predicted: function () {
      return state.predicted;
    },
    // The net's input for the last prediction (W*H values in [0, 1]), or null.
    prepared: function () {
      return state.prepared ? state.prepared.slice() : null;
    },
    // The forward pass alone on W*H inputs: the softmax probabilities.
    forward: function (input) {
      return forward(input);
    },
    clear: clear,
    classes: model.classes.slice(),
  };
  clear();
})();
