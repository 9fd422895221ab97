// The storefront works without this script; it only makes some things happen in place.
"use strict";

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
