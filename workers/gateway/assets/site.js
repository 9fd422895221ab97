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

// --- Cart (sfcart) ---
// Cart forms (`form[data-enhance]`) and the product page's add-to-cart form post with fetch; the
// answer's <main> replaces this page's, focus goes back to the same control when it still exists,
// and a polite live region says what happened. Without fetch, or if it fails, the form posts.
(function () {
  var live = null;
  function announce(text) {
    if (!live) {
      live = document.createElement("div");
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      document.body.appendChild(live);
    }
    live.textContent = "";
    // A change of text after a pause is announced even when it repeats.
    setTimeout(function () { live.textContent = text; }, 60);
  }
  function showCount(count) {
    var link = document.querySelector("[data-cart-link]");
    if (!link || count === null || isNaN(count)) return;
    link.textContent = count > 0 ? "Cart (" + count + ")" : "Cart";
    try { sessionStorage.setItem("cartCount", String(count)); } catch (e) { /* private mode */ }
  }
  function countIn(root) {
    var holder = root.querySelector("[data-cart-count]");
    return holder ? Number(holder.getAttribute("data-cart-count")) : null;
  }
  function refreshCount() {
    fetch("/api/v1/cart", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (cart) {
        if (!cart || !cart.vendors) return;
        var count = 0;
        cart.vendors.forEach(function (vendor) {
          vendor.lines.forEach(function (line) { count += line.quantity; });
        });
        showCount(count);
      })
      .catch(function () { /* the link stays as it is */ });
  }
  function enhanced(form) {
    return form.hasAttribute("data-enhance") || form.getAttribute("action") === "/cart/add";
  }
  var done = {
    "/cart/add": "Added to your cart.",
    "/cart/update": "Quantity updated.",
    "/cart/remove": "Item removed from your cart.",
    "/cart/shipping": "Shipping choice saved.",
    "/cart/destination": "Delivery destination saved.",
    "/cart/coupon": "Coupon applied.",
    "/cart/coupon/remove": "Coupon removed."
  };
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !enhanced(form) || !window.fetch || !window.DOMParser) return;
    event.preventDefault();
    var action = form.getAttribute("action");
    var focusedId = document.activeElement && document.activeElement.id;
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "accept": "text/html" }
    })
      .then(function (response) {
        return response.text().then(function (html) { return { response: response, html: html }; });
      })
      .then(function (answer) {
        var doc = new DOMParser().parseFromString(answer.html, "text/html");
        var main = document.querySelector("main");
        var next = doc.querySelector("main");
        if (!main || !next) { window.location.assign(answer.response.url); return; }
        main.innerHTML = next.innerHTML;
        document.title = doc.title;
        if (answer.response.redirected && answer.response.url) {
          history.replaceState(null, "", answer.response.url);
        }
        var alert = main.querySelector('[role="alert"]');
        var count = countIn(main);
        if (count !== null) showCount(count); else if (action === "/cart/add" && !alert) refreshCount();
        var again = focusedId && document.getElementById(focusedId);
        (again || main).focus();
        announce(alert ? alert.textContent : (done[action] || "Your cart was updated."));
      })
      .catch(function () {
        form.removeAttribute("aria-busy");
        form.submit();
      });
  });
  var count = countIn(document);
  if (count !== null) {
    showCount(count);
  } else {
    try { showCount(Number(sessionStorage.getItem("cartCount"))); } catch (e) { /* private mode */ }
  }
})();
