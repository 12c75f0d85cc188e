// The demo shop: products from /demo/api/products, a cart in localStorage, and a checkout
// that fails on purpose. The recorder on the page captures all of it.
'use strict';

/** The demo visitor's user ID, kept per browser so every visit is the same user. */
function demoUserId() {
  var key = 'replaydesk-demo-user';
  var id = localStorage.getItem(key);
  if (!id) {
    id = 'demo-' + Math.random().toString(36).slice(2, 8);
    localStorage.setItem(key, id);
  }
  return id;
}

(function () {
  var CART_KEY = 'replaydesk-demo-cart';
  var cart = JSON.parse(localStorage.getItem(CART_KEY) || '[]');

  function saveCart() {
    localStorage.setItem(CART_KEY, JSON.stringify(cart));
    var count = document.getElementById('cart-count');
    if (count) count.textContent = String(cart.length);
  }

  function total() {
    return cart.reduce(function (sum, item) { return sum + item.price; }, 0);
  }

  function showIdentity() {
    var user = demoUserId();
    document.querySelectorAll('#demo-user, .demo-user').forEach(function (el) { el.textContent = user; });
    var session = document.getElementById('demo-session');
    if (session) session.textContent = (window.ReplayDesk && ReplayDesk.getSessionId()) || 'not recording';
  }

  function renderProducts(products) {
    var list = document.getElementById('products');
    list.textContent = '';
    products.forEach(function (product) {
      var item = document.createElement('li');
      item.innerHTML = '<h3></h3><p class="price"></p><button type="button" class="button">Add to cart</button>';
      item.querySelector('h3').textContent = product.name;
      item.querySelector('.price').textContent = '$' + product.price.toFixed(2);
      var button = item.querySelector('button');
      button.addEventListener('click', function () {
        cart.push(product);
        saveCart();
        button.textContent = 'Added ✓';
        button.classList.add('added');
        console.info('added to cart', product.id);
      });
      list.appendChild(item);
    });
  }

  function showStep(step) {
    document.getElementById('step-payment').hidden = step !== 'payment';
    document.getElementById('to-payment').hidden = step === 'payment';
  }

  function setUpCheckout() {
    var form = document.getElementById('checkout');
    document.getElementById('total').textContent = '$' + total().toFixed(2);
    showStep(new URLSearchParams(location.search).get('step') || 'contact');
    document.getElementById('to-payment').addEventListener('click', function () {
      history.pushState({ step: 'payment' }, '', '/demo/checkout?step=payment');
      showStep('payment');
    });
    window.addEventListener('popstate', function () {
      showStep(new URLSearchParams(location.search).get('step') || 'contact');
    });
    // "Apply coupon" has no handler at all: the dead button of the demo.
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var error = document.getElementById('error');
      error.hidden = true;
      fetch('/demo/api/checkout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ items: cart.map(function (item) { return item.id; }), total: total() }),
      })
        .then(function (response) {
          if (!response.ok) throw new Error('Payment failed: HTTP ' + response.status);
          location.href = '/demo';
        })
        .catch(function (failure) {
          console.error('Checkout failed', failure);
          error.textContent = 'Something went wrong with your payment. Please try again.';
          error.hidden = false;
        });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    saveCart();
    showIdentity();
    setTimeout(showIdentity, 1500);
    if (document.getElementById('products')) {
      fetch('/demo/api/products').then(function (r) { return r.json(); }).then(renderProducts);
    }
    if (document.getElementById('checkout')) setUpCheckout();
  });
})();
