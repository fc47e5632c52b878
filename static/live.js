/* Live updates (docs/realtime.md) for the channels <main> names. Pages work without it. */
(() => {
  // Times in the reader's own zone, named ("Tuesday 8 December 2026, 19:00 GMT" from the server).
  const local = (iso) => new Date(iso).toLocaleString(document.documentElement.lang || undefined, {weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short'});
  for (const t of document.querySelectorAll('time[data-local]')) t.textContent = local(t.dateTime);
  const zone = document.querySelector('select[data-time-zone]'), own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && !document.querySelector('.errors') && [...zone.options].some((o) => o.value === own)) zone.value = own;
  const countdowns = document.querySelectorAll('[data-countdown]');
  const tick = () => {
    for (const c of countdowns) {
      const m = Math.round((c.dataset.countdown * 1000 - Date.now()) / 60000), h = Math.floor(m / 60), r = m % 60;
      const parts = [h && `${h} hour${h > 1 ? 's' : ''}`, (r || !h) && `${r} minute${r === 1 ? '' : 's'}`].filter(Boolean);
      c.textContent = m <= 0 ? 'any moment now' : `in ${parts.join(' ')}`;
    }
  };
  if (countdowns.length) tick(), setInterval(tick, 30000);
  // A file over the upload limit is refused here, before minutes of sending it (the server checks too).
  for (const f of document.querySelectorAll('input[type=file][data-max-bytes]')) {
    f.onchange = () => {
      const big = [...f.files].some((x) => x.size > +f.dataset.maxBytes);
      f.setCustomValidity(big ? `This file is larger than ${Math.round(f.dataset.maxBytes / 1048576)} MB, the most that can be uploaded here.` : '');
      if (big) f.reportValidity();
    };
  }

  // What the last action did: put into its status region after load, so it is announced.
  const said = document.querySelector('[data-said]');
  if (said) {
    const text = said.textContent;
    said.textContent = '';
    setTimeout(() => { said.textContent = text; }, 300);
  }
  // Menus (<details class="menu">): closed by Escape, back on their button, or a click elsewhere.
  const menus = document.querySelectorAll('details.menu');
  document.addEventListener('click', (e) => { for (const m of menus) if (m.open && !m.contains(e.target)) m.open = false; });
  document.addEventListener('keydown', (e) => {
    for (const m of menus) if (e.key === 'Escape' && m.open) m.open = false, m.querySelector('summary').focus();
  });

  const main = document.querySelector('main[data-live-channels]');
  if (!main) return;
  const $ = (s) => main.querySelector(s), byId = (id) => document.getElementById(id);
  const make = (tag, cls, text, role) => {
    const e = Object.assign(document.createElement(tag), {className: cls || '', textContent: text || ''});
    if (role) e.setAttribute(role === 'polite' ? 'aria-live' : 'role', role);
    return e;
  };
  const frag = (html) => {
    const t = make('template');
    t.innerHTML = html;
    return t.content.firstElementChild;
  };
  const data = main.dataset, posts = $('[data-live-posts]'), list = $('[data-live-list]');
  const older = list && /[?&]before=/.test(location.search);
  const wanted = new Set(data.liveChannels.split(' ').filter((c) => c && !(older && /^(group|latest)/.test(c))));
  const last = new Map(); // channel -> last event id
  for (const [c, n] of (data.liveSince || '').split(' ').map((p) => p.split('='))) if (/^\d+$/.test(n)) last.set(c, +n);
  // The room whose presence this page shows: a topic, or a debate (its lobby and live page).
  const topic = [...wanted].find((c) => /^(topic|debate):/.test(c)), debate = topic && topic.startsWith('debate:');
  const questions = $('[data-questions]'), meta = $('[data-debate-state]');

  // Status line, new-replies button, polite announcer.
  const bar = make('div', 'live-bar'), status = make('p', 'live-status', '', 'status');
  const reload = make('button', '', 'Reload'), more = make('button', 'live-new');
  const announcer = make('div', 'visually-hidden', '', 'polite');
  reload.hidden = more.hidden = true;
  reload.onclick = () => location.reload();
  bar.append(status, reload, more);
  // A page that follows only the reader's own channel (the bell) and the review count shows
  // no live status line: nothing on it changes but the header.
  bar.hidden = [...wanted].every((c) => /^(user:\d+|review)$/.test(c));
  main.insertBefore(bar, posts || main.firstChild);
  main.append(announcer);
  const announce = (text) => {
    const p = announcer.appendChild(make('p', '', text));
    setTimeout(() => p.remove(), 20000);
  };
  let note = '', backTimer;
  const say = (text) => {
    clearTimeout(backTimer);
    status.textContent = text || note;
  };

  // Presence: replying is announced, the reading count is not.
  const presence = make('p', 'presence empty'), replying = make('span', '', '', 'status'), reading = make('span');
  presence.append(replying, reading);
  if (topic) $('h1').after(presence);
  const showPresence = (f) => {
    const names = (f ? f.users : []).filter((u) => u.state === 'replying' && u.username !== data.liveMe);
    const text = names.length ? `${names.map((u) => u.username).join(', ')} ${names[1] ? 'are' : 'is'} replying…` : '';
    if (replying.textContent !== text) replying.textContent = text;
    reading.textContent = f && f.reading > 1 ? `${f.reading} ${debate ? 'people here' : 'reading'}` : '';
    presence.classList.toggle('empty', !replying.textContent && !reading.textContent); // no gap under the title
  };

  let ws, attempt = 0, retryTimer, pingTimer, openTimer, paused, leaving, pending = new Set(), mine = 'viewing';
  const send = (frame) => ws && ws.readyState === 1 && ws.send(JSON.stringify(frame));
  const subscribe = (c) => {
    pending.add(c);
    send({type: 'subscribe', channel: c, since: last.has(c) ? last.get(c) : null});
  };
  const sendPresence = (s) => {
    if (s) mine = s;
    if (wanted.has(topic) && !pending.has(topic)) send({type: 'presence', channel: topic, state: mine});
  };
  // Offline, a try now and then only: coming back online tries at once.
  const offline = () => {
    say('You are offline. Live updates will start again when you are back online.');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, 30000);
  };
  // A socket closed or given up on: say so, and try again after the backoff.
  const lost = (s) => {
    if (ws !== s) return;
    ws = null;
    clearInterval(pingTimer);
    clearTimeout(openTimer);
    showPresence();
    data.liveState = 'paused';
    paused = true;
    if (navigator.onLine === false) return offline();
    say('Live updates paused. Reconnecting…');
    retryTimer = setTimeout(connect, Math.min(30000, 500 * 2 ** attempt++) * (0.5 + Math.random()));
  };
  // Given up on without waiting for its close: a try still unanswered (a phone in a tunnel
  // can leave one hanging for minutes), or a socket gone silent. `lost` ignores whatever it
  // fires later, as it is no longer the page's socket.
  const abandon = (s) => {
    s.close();
    lost(s);
  };
  const connect = () => {
    clearTimeout(retryTimer);
    if (ws || leaving) return;
    const s = ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/live`);
    let heard = true, missed = 0;
    // Longer after repeated failures: a slow link's handshake is not cut off every time.
    openTimer = setTimeout(() => s.readyState === 0 && abandon(s), 15000 * Math.min(attempt || 1, 4));
    s.onopen = () => {
      clearTimeout(openTimer);
      pending = new Set();
      wanted.forEach(subscribe);
      // A socket can go silent without closing (a Wi-Fi change, a router forgetting it): two
      // pings in a row unanswered end it (one may wait behind a slow subscribe).
      pingTimer = setInterval(() => {
        missed = heard ? 0 : missed + 1;
        if (missed === 2) return abandon(s);
        heard = false;
        send({type: 'ping'});
      }, 25000);
    };
    s.onmessage = (m) => {
      heard = true;
      handle(JSON.parse(m.data));
    };
    // Chromium fires only `error`, never `close`, for a try it blocks itself (a policy).
    s.onerror = s.onclose = () => s.readyState === 3 && lost(s);
  };
  const ready = () => {
    if (pending.size) return;
    attempt = 0;
    data.liveState = 'live';
    if (paused) {
      paused = false;
      say('Live updates are back.');
      backTimer = setTimeout(say, 8000);
    }
  };

  const handle = (f) => {
    const c = f.channel, prev = last.get(c);
    if (!wanted.has(c)) return;
    if (f.type === 'subscribed') {
      last.set(c, Math.max(prev || 0, f.last_id));
      pending.delete(c);
      if (c === topic) sendPresence();
      ready();
    } else if (f.type === 'event' && !(f.id <= prev)) {
      if (prev >= 0 && f.id !== prev + 1 && c !== 'latest' && c !== 'review') return pending.has(c) || subscribe(c); // a gap
      last.set(c, f.id);
      if (kinds[f.kind]) kinds[f.kind](f.data);
    } else if (f.type === 'presence' && c === topic) {
      showPresence(f);
    } else if (f.type === 'resync') {
      last.delete(c);
      if (![...document.querySelectorAll('textarea')].some((t) => t.value.trim())) return location.reload();
      subscribe(c);
      say(note = 'Some updates are missing here. Copy your unsent text, then reload the page.');
      reload.hidden = false;
    } else if (f.code === 'unavailable' && c) { // the server's database is restarting
      setTimeout(() => wanted.has(c) && subscribe(c), 2000 + Math.random() * 3000);
    } else if (f.code === 'forbidden') { // access ended
      wanted.delete(c);
      pending.delete(c);
      if (c === topic) showPresence();
      if (/^(topic|group|debate)/.test(c)) say(note = 'You no longer have access to this group.');
      ready();
    }
  };

  // Answers in a busy debate are announced a few seconds' worth at a time, not one by one.
  const batch = new Map();
  let batchTimer;
  const answered = (q, name) => {
    batch.set(q, (batch.get(q) || []).concat(name));
    batchTimer = batchTimer || setTimeout(() => {
      for (const [n, names] of batch) announce(names[1] ? `${names.length} new answers to question ${n}` : `New answer to question ${n} from ${names[0]}`);
      batch.clear();
      batchTimer = null;
    }, 3000);
  };

  // A new reply out of view gets a button; the reader is never scrolled.
  const unseen = [];
  const showMore = () => {
    more.hidden = !unseen.length;
    more.textContent = `${unseen.length} new ${debate ? 'answer' : 'repl'}${unseen[1] ? (debate ? 's' : 'ies') : (debate ? '' : 'y')}`;
  };
  showMore();
  more.onclick = () => {
    const first = unseen.splice(0)[0];
    if (!first) return;
    first.tabIndex = -1;
    first.focus({preventScroll: true});
    first.scrollIntoView();
    showMore();
  };
  const inView = (e) => {
    const r = e.getBoundingClientRect();
    return r.top < innerHeight - 40 && r.bottom > 0;
  };
  addEventListener('scroll', () => {
    if (!unseen.length) return;
    while (unseen[0] && inView(unseen[0])) unseen.shift();
    showMore();
  }, {passive: true});

  // Lists: new or bumped rows go to the top; pinned rows change in place.
  const mark = (row, old, d, created) => { // the viewer's own markers, not in the shared html
    if (!data.liveMe) return;
    const title = row.querySelector('.topic-title');
    const put = (cls, text, hidden) => {
      const s = make('span', cls, text);
      if (hidden) s.append(make('span', 'visually-hidden', hidden));
      title.after(s);
      return s;
    };
    if (d.username === data.liveMe) { // their own post: read to there, and they watch it now
      row.dataset.lastRead = d.post_number || 1;
      row.setAttribute('data-tracked', '');
    } else if (old && old.dataset.lastRead !== undefined) {
      row.dataset.lastRead = old.dataset.lastRead;
      if (!old.hasAttribute('data-tracked')) return;
      row.setAttribute('data-tracked', '');
      const n = (d.post_number || 0) - +old.dataset.lastRead;
      if (n > 0) put('unread-count', String(n), ' unread');
    } else if (created || (old && old.querySelector('[data-new]'))) put('tag tag-new', 'New').dataset.new = '';
  };
  const topicRow = (d, created) => {
    const row = list && frag(d.html), old = byId(`topic-row-${d.topic_id}`);
    if (!row) return;
    mark(row, old, d, created);
    const carry = row.querySelector('[data-carry]'), had = old && old.querySelector('.readers:not(:empty)');
    if (carry && had) carry.replaceWith(had.cloneNode(true)); // readers are counted on pages only
    const where = row.querySelector('.in-group'), was = old && old.querySelector('.in-group');
    if (where) where.hidden = was ? was.hidden : list.dataset.showGroup === 'no';
    if (old && !list.contains(old)) return old.replaceWith(row);
    if (old) old.remove();
    list.prepend(row);
    const empty = list.nextElementSibling;
    if (empty && empty.matches('.empty')) empty.remove();
    return !old;
  };

  const kinds = {
    'post.created'(d) { // d.html carries this viewer's controls, as a reload would show them
      const into = d.question ? $(`[data-answers="${d.question}"]`) : posts;
      const n = d.post_number, post = into && !into.hasAttribute('data-live-more') && !byId(`post-${n}`) && frag(d.html);
      const count = $('[data-live-count]');
      if (count && d.posts_label) count.textContent = d.posts_label;
      if (!post) return;
      withToken(post);
      into.append(post);
      if (seen && !d.question) seen.observe(post);
      if (d.question) {
        const none = $(`[data-no-answers="${d.question}"]`), taking = $('[data-live-participants]');
        if (none) none.remove();
        if (taking && d.participants_label) taking.textContent = d.participants_label;
      }
      if (d.question) answered(d.question, d.username);
      else announce(`New reply from ${d.username}`);
      if (!inView(post)) unseen.push(post);
      showMore();
    },
    'post.edited'(d) { // in place: the element stays, so focus and the unseen list do too
      const old = (posts || questions) && byId(`post-${d.post_number}`), post = old && frag(d.html);
      if (!post) return;
      for (const part of ['.post-meta', '.cooked']) old.querySelector(part).replaceWith(post.querySelector(part));
      const was = old.querySelector('.post-actions'), now = post.querySelector('.post-actions');
      const thanked = was && was.querySelector('.like'), like = now && now.querySelector('.like');
      if (thanked && like) like.replaceWith(thanked); // the reader's own thanks are theirs, not the event's
      if (was) was.remove();
      if (now) old.querySelector('.post-body').append(withToken(now));
      const likes = old.querySelector('.post-likes'), counted = post.querySelector('.post-likes');
      if (likes && counted) likes.replaceWith(counted); // none shown while it is hidden
      // Replies that open this post in place lose its old words: edited, hidden or removed.
      for (const quoted of document.querySelectorAll(`details.reply-to[data-reply-to="${d.post_number}"]`)) {
        const link = quoted.querySelector('blockquote a'), p = make('p', 'reply-to', 'In reply to ');
        p.append(Object.assign(make('a', '', `post #${d.post_number}`), {href: link ? link.href : `#post-${d.post_number}`}));
        quoted.replaceWith(p);
      }
      old.className = post.className; // highlighted or not
      if (d.debate_id && d.facts && d.facts.hidden && !old.querySelector('.removed')) announce(`An answer from ${d.username} is hidden while a moderator looks at it.`);
    },
    'post.liked'(d) { // the count beside a post, alike for every reader
      const at = byId(`likes-${d.post_id}`);
      if (at) showLikes(at, d);
    },
    'debate.question'(d) { // a host revealed a question: it opens under the others
      if (!questions || byId(`q${d.number}`)) return;
      const section = frag(d.html), none = $('[data-no-questions]'), choice = $('[data-question-choice]'), box = byId('raw');
      questions.append(section);
      if (none) none.remove();
      announce(`Question ${d.number}: ${section.querySelector('.question-text').textContent.trim()}`);
      const toCome = $('[data-questions-to-come]');
      if (toCome) toCome.textContent = d.remaining ? `${d.remaining} more ${d.remaining === 1 ? 'question' : 'questions'} to come.` : '';
      const next = $('[data-reveal-next]'), gone = byId(`prepared-${d.number}`), list = $('[data-prepared]');
      if (gone) gone.remove();
      if (list && !list.querySelector('li')) list.remove();
      if (next) d.remaining ? (next.querySelector('[name=number]').value = d.number + 1, next.querySelector('button').textContent = `Reveal question ${d.number + 1}`) : next.remove();
      if (choice) { // the answer form is on the page from the start; never move an answer being written
        const waiting = choice.querySelector('[data-waiting]');
        if (waiting) waiting.remove();
        choice.append(Object.assign(make('option', '', `Question ${d.number}`), {value: d.number}));
        if (waiting || !(box && box.value.trim())) choice.value = d.number;
      }
    },
    'debate.state'(d) {
      announce(d.message);
      if (meta && d.state !== meta.dataset.debateState) { // live or ended: the page changes shape
        if (![...document.querySelectorAll('textarea')].some((t) => t.value.trim())) return setTimeout(() => location.reload(), 1000 + Math.random() * 3000); // spread: hundreds reload at once
        say(note = d.message);
        reload.hidden = false;
        return;
      }
      const ends = $('[data-debate-ends]');
      if (ends) ends.textContent = local(new Date(d.ends_at * 1000).toISOString());
    },
    'debate.reminder'(d) {
      announce(d.message);
      say(note = d.message + ' ');
      status.append(Object.assign(make('a', '', 'Go to the debate'), {href: d.url}));
    },
    'topic.created'(d) {
      if (topicRow(d, true)) announce(`New topic: ${d.title}`);
    },
    'topic.bumped'(d) {
      topicRow(d);
    },
    'topic.moved'(d) { // its page says so (same address, new group); its old group's list drops it
      if (topic === `topic:${d.topic_id}`) return announce(note = 'This topic was moved to another group. Reload the page to see where.'), say(note), reload.hidden = false;
      const row = byId(`topic-row-${d.topic_id}`);
      if (row && list && list.contains(row) && wanted.has(`group:${d.from_group_id}`)) row.remove();
    },
    'topic.answered'(d) { // off the conveners' list of topics waiting, and its count
      const row = byId(`waiting-${d.topic_id}`), count = document.querySelector('[data-unanswered-count]');
      if (count && d.waiting) {
        count.textContent = Math.max(0, +count.textContent - 1);
        if (count.textContent === '0') count.closest('[data-unanswered]').hidden = true;
      }
      if (!row) return;
      announce(`${row.querySelector('a').textContent} has its first answer.`);
      row.remove();
      const left = $('[data-waiting]');
      if (left && !left.children.length) left.replaceWith(make('p', '', 'Every topic has an answer.'));
    },
    'review.changed'(d) { // the queue and the header's count; d.html: the card as this reviewer may act
      countNow();
      const queue = $('[data-review-queue]'), old = byId(`review-item-${d.item_id}`);
      if (!queue) return;
      if (d.status !== 'pending') {
        if (old) old.remove(), announce(`Item ${d.item_id} was handled.`);
      } else if (old) { // keep what the moderator is typing: change the claim and version only
        old.querySelector('[data-claim]').textContent = d.claimed_by ? `${d.claimed_by} is reviewing this.` : '';
        for (const v of old.querySelectorAll('[name=version]')) v.value = d.version;
        if (old.dataset.version != d.version && d.html) { // new flags or an edit: show what is decided on now
          const card = frag(d.html);
          for (const part of ['.reasons', '.review-text']) if (old.querySelector(part) && card.querySelector(part)) old.querySelector(part).replaceWith(card.querySelector(part));
        }
        old.dataset.version = d.version;
      } else if (d.html) {
        const card = frag(d.html);
        for (const t of card.querySelectorAll('[name=csrf_token]')) t.value = csrf;
        queue.append(card);
        announce('A new item is waiting for review.');
      }
      const empty = queue.nextElementSibling, none = !queue.children.length;
      if (empty && empty.matches('.empty')) {
        if (!none) empty.remove();
      } else if (none) queue.after(make('p', 'empty', 'Nothing is waiting for review.'));
    },
    'notification.created'(d) { // d.html: the item as the bell lists it; d.unread: the new count
      bellSet(d.unread);
      if (bellItems && bellLoaded) bellItems.prepend(frag(d.html));
      announce(d.message);
    },
    'notification.read'(d) {
      bellSet(d.unread);
    },
    'review.outcome'(d) {
      announce(d.message);
      const item = byId(`item-${d.item_id}`);
      if (item) item.querySelector('strong').textContent = {approved: 'Approved', rejected: 'Not published', ignored: 'No change needed'}[d.status];
    },
  };
  const csrf = (document.querySelector('meta[name=csrf-token]') || {}).content, counter = document.querySelector('[data-review-count]');
  // The bell: its count, and a menu of the newest notifications fetched when it first opens
  // (without JavaScript the bell is a link to the notifications page).
  const bell = document.querySelector('[data-bell]'), bellMenu = bell && make('div', 'bell-menu');
  const bellItems = bellMenu && make('ul', 'notification-list');
  if (bell) {
    bellMenu.id = 'bell-menu';
    bellMenu.hidden = true;
    bellMenu.append(bellItems, make('p'));
    bellMenu.lastChild.append(Object.assign(make('a', '', 'See all notifications'), {href: bell.href}));
    bell.after(bellMenu);
    bell.setAttribute('aria-controls', 'bell-menu');
  }
  let bellLoaded = false;
  const bellSet = (n) => {
    const count = document.querySelector('[data-bell-count]');
    if (!count) return;
    count.hidden = !n;
    count.querySelector('[data-bell-n]').textContent = n;
  };
  const bellOpen = (open) => {
    bellMenu.hidden = !open;
    bell.setAttribute('aria-expanded', String(open));
    if (open && !bellLoaded) {
      fetch('/notifications/menu', {headers: {accept: 'text/html'}}).then((r) => r.ok && r.text()).then((html) => {
        if (html === false) return;
        bellItems.innerHTML = html || '<li class="empty">Nothing yet.</li>';
        bellLoaded = true;
      }, () => {});
    }
  };
  if (bell && bellMenu) {
    bell.setAttribute('role', 'button');
    bell.setAttribute('aria-expanded', 'false');
    bell.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return; // a new tab: the page
      e.preventDefault();
      bellOpen(bellMenu.hidden);
    });
    bell.addEventListener('keydown', (e) => { // a button opens with Space too
      if (e.key === ' ') e.preventDefault(), bellOpen(bellMenu.hidden);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !bellMenu.hidden) bellOpen(false), bell.focus();
    });
    document.addEventListener('click', (e) => {
      if (!bellMenu.hidden && !bellMenu.contains(e.target) && !bell.contains(e.target)) bellOpen(false);
    });
  }
  function withToken(e) { // forms that arrive live (a host's highlight button) carry this viewer's token
    for (const t of e.querySelectorAll('[name=csrf_token]')) t.value = csrf;
    return e;
  }
  // Thanks are given in place, and the count follows (the server's event brings it to others).
  function showLikes(at, d) {
    at.textContent = '';
    if (!d.likes) return;
    const link = at.appendChild(Object.assign(make('a', '', d.likes_label), {href: `/p/${d.post_id}/likes`}));
    link.append(make('span', 'visually-hidden', ` for post ${d.post_number}: see who`));
  }
  document.addEventListener('submit', (e) => { // a post's thank-you button, in the page's #thanks form
    const button = e.submitter;
    if (!button || !button.classList.contains('like') || e.defaultPrevented) return;
    e.preventDefault();
    const article = button.closest('article'), body = new URLSearchParams(new FormData(e.target));
    body.set('liked', button.value);
    if (button.getAttribute('aria-disabled') === 'true') return; // one at a time; focus stays put
    button.setAttribute('aria-disabled', 'true');
    fetch(button.formAction, {method: 'POST', body, headers: {accept: 'application/json'}})
      .then((r) => r.json().then((j) => {
        if (!r.ok) return announce((j.errors || ['That did not work. Please try again.'])[0]);
        button.setAttribute('aria-pressed', j.liked);
        button.value = j.liked ? 'no' : 'yes';
        const n = +article.id.replace('post-', ''), at = article.querySelector('.post-likes');
        if (at) showLikes(at, {likes: j.likes, likes_label: j.likes_label, post_id: +at.id.replace('likes-', ''), post_number: n});
        announce(j.liked ? `You thanked post ${n}.` : `You took back your thanks for post ${n}.`);
      }))
      .catch(() => announce('That did not work. Please try again.'))
      .finally(() => button.removeAttribute('aria-disabled'));
  });
  // Reading: the furthest post scrolled into view is reported as read (Discourse's
  // /topics/timings), at most every 3 s, and once more as the page is left.
  const readTopic = posts && posts.dataset.readTopic;
  let readUpto = 0, readSent = 0, readTimer = null;
  const sendRead = (leaving) => {
    clearTimeout(readTimer);
    readTimer = null;
    if (readUpto <= readSent) return;
    const body = new URLSearchParams({topic_id: readTopic, csrf_token: csrf});
    body.set(`timings[${readUpto}]`, '1000');
    readSent = readUpto;
    if (leaving === true && navigator.sendBeacon) navigator.sendBeacon('/topics/timings', body);
    else fetch('/topics/timings', {method: 'POST', body, headers: {accept: 'application/json'}}).catch(() => {});
  };
  const seen = readTopic && 'IntersectionObserver' in window && new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      readUpto = Math.max(readUpto, +e.target.id.replace('post-', '') || 0);
      seen.unobserve(e.target);
    }
    if (readUpto > readSent && !readTimer) readTimer = setTimeout(sendRead, 3000);
  }, {rootMargin: '0px 0px -25% 0px'}); // seen once its top is in the upper three quarters
  if (seen) {
    for (const a of posts.querySelectorAll('article.post')) seen.observe(a);
    addEventListener('pagehide', () => sendRead(true));
  }
  const firstNew = byId('new');
  if (firstNew && !location.hash) firstNew.scrollIntoView({block: 'start'}), firstNew.focus({preventScroll: true});
  const waiting = $('[data-review-waiting]'); // the queue page's own count
  const countNow = () => counter && fetch('/review/count.json', {headers: {accept: 'application/json'}})
    .then((r) => r.ok && r.json()).then((j) => {
      if (!j) return;
      counter.textContent = j.pending ? ` (${j.pending} waiting)` : '';
      if (waiting) waiting.textContent = `${j.pending} waiting`;
    }, () => {});
  countNow();

  // Replying while typing; viewing after 20 s idle or with an empty box.
  const box = topic && byId('raw');
  let idle;
  if (box) {
    box.oninput = () => {
      clearTimeout(idle);
      idle = setTimeout(sendPresence, 20000, 'viewing');
      if (mine !== (mine = box.value.trim() ? 'replying' : 'viewing')) sendPresence();
    };
    box.onblur = () => box.value.trim() || mine === 'viewing' || sendPresence('viewing');
  }
  addEventListener('pagehide', () => {
    leaving = true;
    if (topic) sendPresence('left');
    const s = ws;
    ws = null;
    clearInterval(pingTimer);
    clearTimeout(openTimer);
    if (s) s.close(1000);
  });
  addEventListener('pageshow', (e) => {
    leaving = false;
    mine = 'viewing';
    if (e.persisted) connect();
  });
  // Off the network, a socket can stay open without a word for minutes: it is closed at once,
  // and the page says so.
  addEventListener('offline', () => ws ? abandon(ws) : paused && offline());
  // Back on the network (a phone out of a tunnel): try within a second, not after the
  // backoff; not all at the same moment, when a whole ward's Wi-Fi comes back.
  addEventListener('online', () => {
    if (ws && ws.readyState === 0) abandon(ws);
    attempt = 0;
    if (ws || leaving) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, Math.random() * 1000);
  });

  window.forumLive = {get _socket() { return ws; }, last};
  connect();
})();
