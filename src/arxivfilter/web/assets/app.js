// arxivfilter site: search, filters, sorting, URL state and keyboard navigation.
// Every piece of paper text is put into the page with textContent (never as HTML), and the
// only links built from data are arXiv URLs made from ids that pass a strict pattern.
(function () {
  "use strict";

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
  var docs = [];
  var sets = globalThis.arxivfilterData || [];
  sets.forEach(function (set) {
    (set.papers || []).forEach(function (p) {
      if (typeof p.id !== "string" || !ID_RE.test(p.id)) return;
      p.p = String(set.profile);
      p.n = docs.length;
      docs.push(p);
    });
  });
  var minDate = "", maxDate = "";
  docs.forEach(function (p) {
    if (!minDate || p.d < minDate) minDate = p.d;
    if (!maxDate || p.d > maxDate) maxDate = p.d;
  });
  [els.from, els.to].forEach(function (el) {
    if (minDate) { el.min = minDate; el.max = maxDate; }
  });

  // ------------------------------------------------------------------ the index
  // Built in the page from the same data the list shows. Small sites index at once; big
  // ones in chunks in the background (the page stays responsive, the filters work at once,
  // and a search waits for the index with a note in the status line).
  var SYNC_LIMIT = 5000;
  var index = null;
  var ready = false;
  var indexing = null;
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
  function buildIndex() {
    if (indexing === null) {
      index = newIndex();
      if (docs.length <= SYNC_LIMIT) {
        index.addAll(docs);
        ready = true;
        indexing = Promise.resolve(true);
      } else {
        indexing = index.addAllAsync(docs, { chunkSize: 2000 }).then(function () {
          ready = true;
          return true;
        });
      }
    }
    return indexing;
  }
  function searchIndex() {
    buildIndex();
    return ready ? index : null;
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

  function compute(s) {
    var list;
    var hits = null;
    if (s.q) {
      var idx = searchIndex();
      if (idx === null) return null;  // still indexing: update() runs again when done
      hits = idx.search(s.q);
      list = hits.map(function (h) { return docs[h.id]; });
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
    moreBtn.hidden = shown >= current.length;
  }

  function update(opts) {
    var s = state();
    var list = compute(s);
    if (!opts || !opts.keepUrl) writeUrl(s);
    if (list === null) {
      statusEl.textContent = "Indexing " + docs.length + " papers for search\u2026";
      buildIndex().then(function () { update({ keepUrl: true }); showHash(); });
      return;
    }
    current = list;
    results.replaceChildren();
    shown = 0;
    cursor = -1;
    renderMore(pageSize);
    var total = docs.length;
    statusEl.textContent = current.length === total
      ? total + " papers"
      : current.length + " of " + total + " papers match";
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

  function showHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var at = -1;
    for (var i = 0; i < current.length; i++) {
      if (anchorId(current[i]) === id) { at = i; break; }
    }
    if (at < 0) return;
    if (at >= shown) renderMore(at + 1);
    focusCard(at);
  }

  // ------------------------------------------------------------------ events
  var timer = 0;
  form.addEventListener("submit", function (ev) { ev.preventDefault(); update(); });
  form.addEventListener("input", function (ev) {
    clearTimeout(timer);
    timer = setTimeout(update, ev.target === els.q ? 120 : 0);
  });
  form.addEventListener("change", function () { clearTimeout(timer); update(); });
  form.addEventListener("reset", function () { setTimeout(update, 0); });
  moreBtn.addEventListener("click", function () { renderMore(shown + pageSize); });
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
    ready: function () { return buildIndex(); },
    search: function (q) { return index.search(q).length; },
  };

  readUrl();
  update({ keepUrl: true });
  showHash();
  // index in the background once the first list is on screen
  setTimeout(buildIndex, 0);
})();
