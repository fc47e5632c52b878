/* Shortcuts: j/k next and previous post, r reply, / search, ? this list. Never while typing. */
(() => {
  'use strict';
  const $ = (s) => document.querySelector(s);
  let current = null, help = null;

  const move = (by) => { // looked up now: some posts arrived live
    const posts = [...document.querySelectorAll('main article.post')]; // a topic's, or a debate's answers
    const i = posts.indexOf(document.activeElement.closest('article.post') || current);
    const post = posts[Math.min(Math.max(i < 0 ? 0 : i + by, 0), posts.length - 1)];
    if (!post) return false;
    if (current) current.classList.remove('key-current');
    (current = post).classList.add('key-current');
    post.tabIndex = -1;
    post.focus({preventScroll: true});
    post.scrollIntoView();
    return true;
  };
  const reply = () => {
    const box = $('#raw'), bar = $('.dock-bar');
    if (box && bar && !box.offsetParent) bar.click(); // docked and minimised (dock.js): open it
    if (box) box.scrollIntoView({block: 'center'}), box.focus({preventScroll: true});
    return !!box;
  };
  const search = () => { // the search page's own box, else the header's
    const box = $('main [type=search]') || $('[role=search] [name=q]');
    if (box && box.offsetParent) box.focus(), box.select(); // the header's box is hidden on a phone
    else location.href = '/search';
    return true;
  };
  const show = () => {
    if (!help) {
      help = document.body.appendChild(document.createElement('dialog'));
      help.setAttribute('aria-labelledby', 'keys-h');
      help.innerHTML = '<h2 id="keys-h">Keyboard shortcuts</h2><ul>' +
        [['j', 'Next post'], ['k', 'Previous post'], ['r', 'Reply'], ['/', 'Search'], ['?', 'These shortcuts']]
          .map(([k, what]) => `<li><kbd>${k}</kbd> ${what}</li>`).join('') +
        '</ul><p><label><input type="checkbox" id="keys-on"> Use these shortcuts</label></p>' +
        '<button type="button" autofocus>Close</button>';
      help.querySelector('button').onclick = () => help.close();
      help.querySelector('#keys-on').onchange = (e) => remember(e.target.checked ? 'on' : 'off');
    }
    help.querySelector('#keys-on').checked = !off();
    const back = document.activeElement;
    help.onclose = () => { // focus back where it was, unless the browser did so or a key moved it since
      const now = document.activeElement;
      if (now === document.body || help.contains(now)) back.focus({preventScroll: true});
    };
    help.showModal();
    return true;
  };
  const actions = {j: () => move(1), k: () => move(-1), r: reply, '/': search, '?': show};
  // Single keys can be turned off (WCAG 2.1.4: speech input types them by accident); the
  // footer's button opens this list, and its switch, either way.
  const remember = (v) => { try { localStorage.setItem('keys', v); } catch (e) { /* private mode */ } };
  const off = () => { try { return localStorage.getItem('keys') === 'off'; } catch (e) { return false; } };
  const opener = $('[data-keys]');
  if (opener) opener.hidden = false, opener.onclick = show;

  document.addEventListener('keydown', (e) => {
    const t = e.target, act = actions[e.key];
    if (!act || off() || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || $('dialog[open]')) return;
    if (act()) e.preventDefault(); // else the key does what it always did
  });
})();
