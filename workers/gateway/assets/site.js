// The storefront works without this script; it only makes some things happen in place.
"use strict";

// --- Catalog: search suggestions (sfcatalog) ---
// The header's search box asks the suggest API as the shopper types (debounced) and fills the
// #suggestions listbox; arrows move, Enter opens the highlighted product, Escape closes. Without
// this script the form simply submits to /search.
(function () {
  var input = document.querySelector("input[data-suggest]");
  var list = document.getElementById("suggestions");
  if (!input || !list || !window.fetch) return;
  var DELAY_MS = 200;
  var MIN_CHARS = 2;
  var timer = null;
  var active = -1;
  var items = [];
  var asked = "";
  var pending = null;

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-expanded", "false");

  function close() {
    list.hidden = true;
    list.textContent = "";
    items = [];
    active = -1;
    asked = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    items.forEach(function (item, i) {
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", items[index].id);
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function productHref(suggestion) {
    if (suggestion.vendor_slug) return "/products/" + suggestion.slug + "--" + suggestion.vendor_slug;
    return "/search?q=" + encodeURIComponent(suggestion.title);
  }

  function show(suggestions) {
    list.textContent = "";
    items = suggestions.map(function (suggestion, i) {
      var option = document.createElement("li");
      option.id = "suggestion-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      var link = document.createElement("a");
      link.href = productHref(suggestion);
      link.tabIndex = -1;
      link.textContent = suggestion.title;
      option.appendChild(link);
      // Before the input's blur closes the list.
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      list.appendChild(option);
      return option;
    });
    active = -1;
    if (items.length === 0) {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      return;
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function ask() {
    var q = input.value.trim();
    if (q.length < MIN_CHARS) return close();
    if (q === asked) return;
    asked = q;
    if (pending) pending.abort();
    pending = window.AbortController ? new AbortController() : null;
    var url = input.getAttribute("data-suggest") + "?limit=8&q=" + encodeURIComponent(q);
    fetch(url, { headers: { accept: "application/json" }, signal: pending ? pending.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (suggestions) {
        // A late answer to an older prefix must not replace the current one.
        if (input.value.trim() === q) show(Array.isArray(suggestions) ? suggestions : []);
      })
      .catch(function () { /* offline or aborted: the form still submits */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, DELAY_MS);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      highlight(active + 1 >= items.length ? 0 : active + 1);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.href = items[active].querySelector("a").href;
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
})();
