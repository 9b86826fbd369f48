// arxivfilter site: search, filters, sorting, URL state and keyboard navigation.
// Every piece of paper text is put into the page with textContent (never as HTML), and the
// only links built from data are arXiv URLs made from ids that pass a strict pattern.
(function () {
  "use strict";

  var KEY_RE = /^\d{4}-\d{2}-\d{2}$/;
  var ID_RE = /^(\d{4}\.\d{4,5}|[a-z][a-z-]*(\.[A-Z]{2})?\/\d{7})$/;
  var body = document.body;
  var kind = body.getAttribute("data-page");
  var root = body.getAttribute("data-root") || "";
  var pageSize = parseInt(body.getAttribute("data-page-size"), 10) || 100;
  var form = document.getElementById("filters");
  var els = {
    q: document.getElementById("q"),
    tag: document.getElementById("tag"),
    profile: document.getElementById("profile"),
    from: document.getElementById("from"),
    to: document.getElementById("to"),
    min: document.getElementById("min"),
    sort: document.getElementById("sort"),
  };
  var results = document.getElementById("results");
  var statusEl = document.getElementById("status");
  var moreBtn = document.getElementById("more");

  // ------------------------------------------------------------------ the papers
  // The data files push {kind, ...} onto globalThis.arxivfilterData: per profile a list of
  // its shards ("shards"), per week the papers' text ("text", shared by the profiles) and a
  // profile's judgements ("judged"). The page's <script> tags bring the newest shards; older
  // ones are added as <script> elements when a search, a filter, a permalink or "Load older
  // papers" needs them (fetch() is refused on file:// pages; script elements are not).
  var queue = globalThis.arxivfilterData = globalThis.arxivfilterData || [];
  var seen = 0;
  var manifests = {};  // profile -> its shard list
  var profiles = [];   // the profiles on this page, sorted
  var shards = {};     // key -> {k, from, to, lo, hi, n, files, text, judged, state}
  var keys = [];       // every shard key, newest first
  var docs = [];
  var total = 0;
  var minDate = "", maxDate = "";

  function take(set) {
    if (!set || typeof set !== "object") return;
    if (set.kind === "shards") {
      var prof = String(set.profile);
      if (manifests[prof]) return;
      manifests[prof] = set;
      profiles.push(prof);
      profiles.sort();
      total += Number(set.count) || 0;
      (set.shards || []).forEach(function (e) {
        if (typeof e.k !== "string" || !KEY_RE.test(e.k)) return;  // a file name: a date only
        var sh = shards[e.k];
        if (!sh) {
          sh = shards[e.k] = {
            k: e.k, from: e.from, to: e.to, lo: e.lo, hi: e.hi, n: 0, tv: e.tv,
            versions: {}, text: null, judged: {}, state: 0, docs: [], index: null,
          };
          keys.push(e.k);
        }
        if (e.from < sh.from) sh.from = e.from;
        if (e.to > sh.to) sh.to = e.to;
        if (e.lo < sh.lo) sh.lo = e.lo;
        if (e.hi > sh.hi) sh.hi = e.hi;
        sh.n += Number(e.n) || 0;
        sh.versions[prof] = e.v;
        if (!minDate || e.from < minDate) minDate = e.from;
        if (!maxDate || e.to > maxDate) maxDate = e.to;
      });
      keys.sort(function (a, b) { return a < b ? 1 : a > b ? -1 : 0; });
    } else if (set.kind === "text" && shards[set.k]) {
      var byId = Object.create(null);
      (set.papers || []).forEach(function (p) { if (typeof p.id === "string") byId[p.id] = p; });
      shards[set.k].text = byId;
    } else if (set.kind === "judged" && shards[set.k]) {
      shards[set.k].judged[String(set.profile)] = set.papers || [];
    }
  }
  // a shard is complete once its text and every profile's judgements are in
  function assemble(sh) {
    if (sh.state === 2 || !sh.text) return false;
    for (var prof in sh.versions) if (!sh.judged[prof]) return false;
    profiles.forEach(function (prof) {
      (sh.judged[prof] || []).forEach(function (j) {
        if (typeof j.id !== "string" || !ID_RE.test(j.id)) return;
        var t = sh.text[j.id];
        if (!t) return;
        var p = {};
        for (var f in t) p[f] = t[f];
        for (var g in j) p[g] = j[g];
        p.p = prof;
        p.n = docs.length;
        docs.push(p);
        sh.docs.push(p);
      });
    });
    sh.text = null;
    sh.judged = {};
    sh.state = 2;
    return true;
  }
  function drain() {
    while (seen < queue.length) take(queue[seen++]);
    keys.forEach(function (k) { assemble(shards[k]); });
  }
  drain();
  [els.from, els.to].forEach(function (el) {
    if (minDate) { el.min = minDate; el.max = maxDate; }
  });

  function script(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = function () { resolve(); };
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }
  // load one shard's files (in parallel), then add its papers
  function loadShard(sh) {
    if (sh.state === 2) return Promise.resolve();
    if (sh.loading) return sh.loading;
    sh.state = 1;
    var files = [];
    if (!sh.text) files.push(script(root + "data/text/" + sh.k + ".js?v=" + encodeURIComponent(sh.tv || "")));
    Object.keys(sh.versions).sort().forEach(function (prof) {
      if (!sh.judged[prof]) {
        files.push(script(root + "data/p/" + encodeURIComponent(prof) + "/" + sh.k + ".js?v=" +
          encodeURIComponent(sh.versions[prof] || "")));
      }
    });
    sh.loading = Promise.all(files).then(function () {
      drain();
      sh.loading = null;
    }, function (err) {
      sh.state = 0;
      sh.loading = null;
      throw err;
    });
    return sh.loading;
  }
  function loadedAll() {
    return keys.every(function (k) { return shards[k].state === 2; });
  }
  function overlaps(sh, from, to) {
    return (!from || sh.to >= from) && (!to || sh.from <= to);
  }

  // ------------------------------------------------------------------ the index
  // One MiniSearch index per shard, built in the page from the data the list shows, in
  // chunks (the page stays responsive): the newest shards first, so a search answers from
  // them at once while older ones load and index. (A Web Worker would move this off the
  // main thread, but browsers refuse workers on file:// pages.)
  function newIndex() {
    return new MiniSearch({
      idField: "n",
      fields: ["t", "a", "x", "s"],
      extractField: function (doc, name) {
        var v = doc[name];
        if (name === "n") return v;
        return Array.isArray(v) ? v.join(" ") : v || "";
      },
      searchOptions: {
        boost: { t: 3, s: 2, a: 2 },
        // as you type: only the last word is a prefix; one typo forgiven in long words
        prefix: function (term, i, terms) { return i === terms.length - 1 && term.length >= 2; },
        fuzzy: function (term) { return term.length >= 6 ? 0.2 : false; },
        maxFuzzy: 1,
        combineWith: "AND",
      },
    });
  }
  function indexShard(sh) {
    if (sh.index) return Promise.resolve(sh.index);
    if (!sh.indexing) {
      var idx = newIndex();
      sh.indexing = idx.addAllAsync(sh.docs, { chunkSize: 500 }).then(function () {
        sh.index = idx;
        sh.indexing = null;
        return idx;
      });
    }
    return sh.indexing;
  }
  function indexLoaded() {
    var p = Promise.resolve();
    keys.forEach(function (k) {
      var sh = shards[k];
      if (sh.state === 2) p = p.then(function () { return indexShard(sh); });
    });
    return p;
  }
  // every shard loaded and indexed, newest first; onShard runs after each
  function everything(onShard) {
    var p = Promise.resolve();
    keys.forEach(function (k) {
      var sh = shards[k];
      p = p.then(function () { return loadShard(sh); })
        .then(function () { return indexShard(sh); })
        .then(function () { if (onShard) onShard(sh); });
    });
    return p;
  }

  // ------------------------------------------------------------------ state <-> URL
  var KEYS = ["q", "tag", "profile", "from", "to", "min", "sort"];
  function readUrl() {
    var params = new URLSearchParams(location.search);
    KEYS.forEach(function (k) {
      if (!els[k]) return;
      var v = params.get(k) || "";
      if (els[k].tagName === "SELECT") {
        var ok = Array.prototype.some.call(els[k].options, function (o) { return o.value === v; });
        els[k].value = ok ? v : els[k].options[0].value;
      } else {
        els[k].value = v;
      }
    });
  }
  function state() {
    var s = {};
    KEYS.forEach(function (k) { s[k] = els[k] ? els[k].value.trim() : ""; });
    if (s.sort === "relevance") s.sort = "";
    return s;
  }
  function writeUrl(s) {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (s[k]) params.set(k, s[k]); });
    var qs = params.toString();
    var url = location.pathname + (qs ? "?" + qs : "") + location.hash;
    try {
      history.replaceState(null, "", url);
    } catch (e) {
      // some browsers refuse history changes on file:// pages: the filters still work
    }
  }

  // ------------------------------------------------------------------ filtering
  var current = [];
  var shown = 0;
  var cursor = -1;

  // the papers a view needs beyond the newest shards: a search or a filter looks through
  // every shard in its date range; the plain list shows what is loaded ("Load older papers")
  var upto = 0;  // "Load older papers" asked for the newest this many shards
  function wanted(s) {
    var filtering = s.q || s.tag || s.min || s.from || s.to || s.profile;
    return keys.filter(function (k, i) {
      return filtering ? overlaps(shards[k], s.from, s.to) : i < upto;
    }).map(function (k) { return shards[k]; });
  }
  function loadOlder() {
    for (var i = 0; i < keys.length; i++) {
      if (shards[keys[i]].state !== 2) { upto = Math.max(upto, i + 1); break; }
    }
    update({ keepUrl: true });
  }

  // A search runs shard by shard, newest first, for at most SLICE_MS at a time: the first
  // results are on screen at once, the older shards' come in the next turns. Each shard's
  // hits are kept while the query stays the same (the filters then cost no search).
  var SLICE_MS = 40;
  var hitCache = { q: null, hits: {} };
  var unsearched = 0;
  function compute(s) {
    var list = [];
    unsearched = 0;
    if (s.q) {
      // a new query: the newest shard alone, on screen at once; then slices
      var fresh = hitCache.q !== s.q;
      if (fresh) hitCache = { q: s.q, hits: {} };
      var start = performance.now();
      var searched = 0;
      keys.forEach(function (k) {
        var sh = shards[k];
        if (!sh.index) return;
        var hits = hitCache.hits[k];
        if (!hits) {
          if (searched > 0 && (fresh || performance.now() - start > SLICE_MS)) {
            unsearched++;
            return;
          }
          searched++;
          hits = hitCache.hits[k] = sh.index.search(s.q).map(function (h) { return docs[h.id]; });
        }
        for (var i = 0; i < hits.length; i++) list.push(hits[i]);
      });
    } else {
      list = docs.slice();
    }
    var min = s.min === "" ? NaN : Number(s.min);
    list = list.filter(function (p) {
      if (s.tag && p.g.indexOf(s.tag) < 0) return false;
      if (s.profile && p.p !== s.profile) return false;
      if (s.from && p.d < s.from) return false;
      if (s.to && p.d > s.to) return false;
      if (!isNaN(min) && p.r < min) return false;
      return true;
    });
    var byDate = s.sort === "date";
    list.sort(function (a, b) {
      if (byDate) {
        if (a.d !== b.d) return a.d < b.d ? 1 : -1;
        if (a.r !== b.r) return b.r - a.r;
      } else {
        if (a.r !== b.r) return b.r - a.r;
        if (a.d !== b.d) return a.d < b.d ? 1 : -1;
      }
      if (a.id !== b.id) return a.id < b.id ? -1 : 1;
      return a.p < b.p ? -1 : a.p > b.p ? 1 : 0;
    });
    return list;
  }

  // ------------------------------------------------------------------ rendering
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function link(href, text, cls) {
    var a = el("a", cls, text);
    a.setAttribute("href", href);
    return a;
  }
  function anchorId(p) {
    return kind === "index" ? p.p + ":" + p.id : p.id;
  }
  function card(p) {
    var li = el("li");
    var art = el("article", "paper");
    art.id = anchorId(p);
    art.tabIndex = -1;
    art.setAttribute("data-n", String(p.n));
    var abs = "https://arxiv.org/abs/" + p.id;
    var h = el("h2");
    h.appendChild(link(abs, p.t, "title"));
    art.appendChild(h);

    var meta = el("p", "meta");
    var rel = el("span", "rel", "relevance " + p.r);
    meta.appendChild(rel);
    if (typeof p.h === "number") meta.appendChild(el("span", "hype", "hype " + p.h));
    var time = el("time", null, p.d);
    time.setAttribute("datetime", p.d);
    meta.appendChild(time);
    if (p.c) meta.appendChild(el("span", "cat", p.c));
    if (kind === "index") meta.appendChild(el("span", "prof", p.p));
    art.appendChild(meta);

    if (p.a && p.a.length) art.appendChild(el("p", "authors", p.a.join(", ")));
    if (p.g && p.g.length) {
      var tags = el("p", "tags");
      p.g.forEach(function (t) {
        var b = el("button", "tag", t);
        b.type = "button";
        b.setAttribute("data-tag", t);
        b.setAttribute("aria-label", "Show only the tag " + t);
        tags.appendChild(b);
      });
      art.appendChild(tags);
    }
    if (p.s) {
      var tl = el("p", "tldr");
      tl.appendChild(el("strong", null, "TL;DR "));
      tl.appendChild(document.createTextNode(p.s));
      art.appendChild(tl);
    }
    if (p.w) {
      var why = el("p", "reason");
      why.appendChild(el("strong", null, "Why "));
      why.appendChild(document.createTextNode(p.w));
      art.appendChild(why);
    }
    if (p.x) {
      var det = el("details");
      det.appendChild(el("summary", null, "Abstract"));
      det.appendChild(el("p", "abstract", p.x));
      art.appendChild(det);
    }
    var links = el("p", "links");
    links.appendChild(link(abs, "arXiv", "abs"));
    links.appendChild(link("https://arxiv.org/pdf/" + p.id, "PDF", "pdf"));
    var perma = kind === "index"
      ? root + encodeURIComponent(p.p) + "/index.html#" + p.id
      : "#" + p.id;
    var pl = link(perma, "permalink", "perma");
    pl.setAttribute("aria-label", "Permalink to " + p.id);
    links.appendChild(pl);
    art.appendChild(links);
    li.appendChild(art);
    return li;
  }

  function renderMore(upto) {
    var frag = document.createDocumentFragment();
    var end = Math.min(current.length, upto);
    for (var i = shown; i < end; i++) frag.appendChild(card(current[i]));
    results.appendChild(frag);
    shown = end;
    if (shown < current.length) {
      moreBtn.hidden = false;
      moreBtn.textContent = "Show more";
      moreBtn.removeAttribute("data-older");
    } else if (olderAvailable) {
      moreBtn.hidden = false;
      moreBtn.textContent = "Load older papers";
      moreBtn.setAttribute("data-older", "1");
    } else {
      moreBtn.hidden = true;
    }
  }

  var olderAvailable = false;
  var renders = [];  // [time, status, cards shown] of each redraw since the last input (bench)
  var lastInput = 0;
  var pending = 0;  // a view waiting for shards to load or index
  var failed = "";
  function update(opts) {
    var s = state();
    if (!opts || !opts.keepUrl) writeUrl(s);
    var need = wanted(s);
    var missing = need.filter(function (sh) { return sh.state !== 2 || (s.q && !sh.index); });
    if (s.q) {
      keys.forEach(function (k) {
        var sh = shards[k];
        if (sh.state === 2 && !sh.index && missing.indexOf(sh) < 0 && overlaps(sh, s.from, s.to)) {
          missing.push(sh);
        }
      });
    }
    var filtering = s.q || s.tag || s.min || s.from || s.to || s.profile;
    var loadedN = docs.length;
    olderAvailable = !filtering && !missing.length && loadedN < total;
    var list = compute(s);
    current = list;
    results.replaceChildren();
    shown = 0;
    cursor = -1;
    renderMore(pageSize);
    var text;
    var left = missing.length + unsearched;
    if (s.q && keysDone(true) === 0) {
      text = "Indexing " + (loadedN || total) + " papers for search\u2026";
    } else if (left) {
      text = (filtering ? list.length + " papers match so far" : loadedN + " papers so far") +
        "; " + (s.q ? "searching " : "loading ") + left + " more week" + (left === 1 ? "" : "s") + "\u2026";
    } else if (loadedN < total) {
      text = (list.length === loadedN ? loadedN + " papers" : list.length + " of " + loadedN + " papers match") +
        " from " + (loadedFrom() || "\u2013") + " on (" + total + " in all)";
    } else {
      text = list.length === total ? total + " papers" : list.length + " of " + total + " papers match";
    }
    if (failed) text += " (" + failed + ")";
    statusEl.textContent = text;
    if (renders.length < 10000) renders.push([performance.now(), text, shown]);
    if (missing.length) work(missing, s.q);
    else if (unsearched) redraw();
  }
  function keysDone(q) {
    return keys.filter(function (k) { return shards[k].state === 2 && (!q || shards[k].index); }).length;
  }
  function loadedFrom() {
    var from = "";
    keys.forEach(function (k) {
      var sh = shards[k];
      if (sh.state === 2 && (!from || sh.from < from)) from = sh.from;
    });
    return from;
  }
  // load (and, for a search, index) these shards newest first, redrawing after each
  function work(list, q) {
    var token = ++pending;
    var p = Promise.resolve();
    list.forEach(function (sh) {
      p = p.then(function () {
        if (token !== pending) return;
        return loadShard(sh).then(function () {
          if (q && token === pending) return indexShard(sh);
        }).then(function () {
          if (token === pending) { redraw(); }
        });
      });
    });
    p.catch(function (err) {
      failed = String(err && err.message || err);
      if (token === pending) redraw();
    });
  }
  var redrawTimer = 0;
  function redraw() {
    if (redrawTimer) return;
    redrawTimer = setTimeout(function () {
      redrawTimer = 0;
      update({ keepUrl: true });
      showHash();
    }, 0);
  }

  function cards() {
    return results.querySelectorAll("article.paper");
  }
  function focusCard(i) {
    var list = cards();
    if (i >= list.length && shown < current.length) {
      renderMore(shown + pageSize);
      list = cards();
    }
    if (!list.length) return;
    i = Math.max(0, Math.min(i, list.length - 1));
    if (cursor >= 0 && list[cursor]) list[cursor].classList.remove("current");
    cursor = i;
    list[i].classList.add("current");
    list[i].focus({ preventScroll: true });
    list[i].scrollIntoView({ block: "nearest" });
  }

  var hashLoading = "";
  function showHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var at = -1;
    for (var i = 0; i < current.length; i++) {
      if (anchorId(current[i]) === id) { at = i; break; }
    }
    if (at < 0) {
      findHash(id);
      return;
    }
    if (at >= shown) renderMore(at + 1);
    focusCard(at);
  }
  // a permalink to a paper in a shard not loaded yet: only shards whose id range holds it
  function findHash(id) {
    var paper = kind === "index" ? id.slice(id.indexOf(":") + 1) : id;
    if (!ID_RE.test(paper) || hashLoading === id) return;
    var has = function () { return docs.some(function (p) { return p.id === paper; }); };
    if (has()) return;
    var cands = keys.filter(function (k) {
      var sh = shards[k];
      return sh.state !== 2 && sh.lo <= paper && paper <= sh.hi;
    });
    if (!cands.length) return;
    hashLoading = id;
    var p = Promise.resolve();
    cands.forEach(function (k) {
      p = p.then(function () { if (!has()) return loadShard(shards[k]); });
    });
    p.then(function () {
      update({ keepUrl: true });
      showHash();
      hashLoading = "";
    }, function (err) {
      failed = String(err && err.message || err);
      hashLoading = "";
      update({ keepUrl: true });
    });
  }

  // ------------------------------------------------------------------ events
  var timer = 0;
  form.addEventListener("submit", function (ev) { ev.preventDefault(); update(); });
  form.addEventListener("input", function (ev) {
    lastInput = performance.now();
    renders = [];
    clearTimeout(timer);
    timer = setTimeout(update, ev.target === els.q ? 120 : 0);
  });
  form.addEventListener("change", function () { clearTimeout(timer); update(); });
  form.addEventListener("reset", function () { setTimeout(update, 0); });
  moreBtn.addEventListener("click", function () {
    if (moreBtn.getAttribute("data-older")) {
      loadOlder();
    } else {
      renderMore(shown + pageSize);
    }
  });
  results.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.classList && t.classList.contains("tag")) {
      els.tag.value = t.getAttribute("data-tag");
      update();
      els.tag.focus();
    }
  });
  results.addEventListener("focusin", function (ev) {
    var art = ev.target.closest ? ev.target.closest("article.paper") : null;
    if (!art) return;
    var list = cards();
    for (var i = 0; i < list.length; i++) {
      if (list[i] === art) {
        if (cursor >= 0 && list[cursor]) list[cursor].classList.remove("current");
        cursor = i;
        art.classList.add("current");
        break;
      }
    }
  });
  window.addEventListener("hashchange", showHash);
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
    if (typing) {
      if (ev.key === "Escape") {
        t.blur();
        ev.preventDefault();
      }
      return;
    }
    if (ev.key === "/") {
      ev.preventDefault();
      els.q.focus();
      els.q.select();
    } else if (ev.key === "j") {
      ev.preventDefault();
      focusCard(cursor + 1);
    } else if (ev.key === "k") {
      ev.preventDefault();
      focusCard(cursor <= 0 ? 0 : cursor - 1);
    } else if (ev.key === "o") {
      var list = cards();
      if (cursor >= 0 && list[cursor]) {
        ev.preventDefault();
        list[cursor].querySelector("a.abs").click();
      }
    }
  });

  // The search tests and the bench time a query through this hook.
  globalThis.arxivfilterSite = {
    papers: function () { return docs.length; },
    total: function () { return total; },
    shards: function () { return [keysDone(false), keys.length]; },
    ids: function () { return docs.map(function (p) { return p.id; }); },
    renders: function () { return { input: lastInput, renders: renders.slice() }; },
    ready: function () { return indexLoaded(); },
    loadAll: function () { return everything(); },
    search: function (q) {
      var n = 0;
      keys.forEach(function (k) { if (shards[k].index) n += shards[k].index.search(q).length; });
      return n;
    },
  };

  readUrl();
  update({ keepUrl: true });
  showHash();
  // index the loaded shards in the background once the first list is on screen
  setTimeout(indexLoaded, 0);
})();
