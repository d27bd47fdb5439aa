//! Frames recorded from real LiveView servers, verbatim from the LiveView
//! sections of the project's wire transcript (docs/PROTOCOL.md §10): a
//! counter page's join reply, then the replies to inc, inc, dec (0.20
//! only), set 42, set abc (an empty reply) and two server-pushed ticks.

/// LiveView 0.20.17 on Phoenix 1.7.24.
pub const V020: &[&str] = &[
    r##"["1","1","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{"liveview_version":"0.20.17","rendered":{"0":"0","1":"0","2":" value=\"0\"","3":{"d":[["0"]],"s":["\n    <li>count ","</li>\n  "]},"s":["<h1>Count: ","</h1>\n<p>Ticks: ","</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\"",">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  ","\n</ul>"]}},"status":"ok"}]"##,
    r##"["1","2","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{"diff":{"0":"1","2":" value=\"1\"","3":{"d":[["1"],["0"]]}}},"status":"ok"}]"##,
    r##"["1","3","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{"diff":{"0":"2","2":" value=\"2\"","3":{"d":[["2"],["1"],["0"]]}}},"status":"ok"}]"##,
    r##"["1","4","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{"diff":{"0":"1","2":" value=\"1\"","3":{"d":[["1"],["2"],["1"]]}}},"status":"ok"}]"##,
    r##"["1","5","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{"diff":{"0":"42","2":" value=\"42\"","3":{"d":[["42"],["1"],["2"]]}}},"status":"ok"}]"##,
    r##"["1","6","lv:phx-GO6GYTvTXqzGvAgR","phx_reply",{"response":{},"status":"ok"}]"##,
    r##"["1",null,"lv:phx-GO6GYTvTXqzGvAgR","diff",{"1":"1"}]"##,
    r##"["1",null,"lv:phx-GO6GYTvTXqzGvAgR","diff",{"1":"2"}]"##,
];

/// LiveView 1.1.33 on Phoenix 1.8.12 (no dec in this recording).
pub const V11: &[&str] = &[
    r##"["1","1","lv:phx-GO6HsevefAsJGgKC","phx_reply",{"response":{"liveview_version":"1.1.33","rendered":{"0":"0","1":"0","2":" value=\"0\"","3":{"k":{"0":{"0":"0"},"kc":1},"s":0},"p":{"0":["\n    <li>count ","</li>\n  "],"1":["<h1>Count: ","</h1>\n<p>Ticks: ","</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\"",">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  ","\n</ul>"]},"s":1}},"status":"ok"}]"##,
    r##"["1","2","lv:phx-GO6HsevefAsJGgKC","phx_reply",{"response":{"diff":{"0":"1","2":" value=\"1\"","3":{"k":{"0":{"0":"1"},"1":{"0":"0"},"kc":2}}}},"status":"ok"}]"##,
    r##"["1","3","lv:phx-GO6HsevefAsJGgKC","phx_reply",{"response":{"diff":{"0":"2","2":" value=\"2\"","3":{"k":{"0":{"0":"2"},"1":{"0":"1"},"2":{"0":"0"},"kc":3}}}},"status":"ok"}]"##,
    r##"["1","4","lv:phx-GO6HsevefAsJGgKC","phx_reply",{"response":{"diff":{"0":"42","2":" value=\"42\"","3":{"k":{"0":{"0":"42"},"1":{"0":"2"},"2":{"0":"1"},"kc":3}}}},"status":"ok"}]"##,
    r##"["1","5","lv:phx-GO6HsevefAsJGgKC","phx_reply",{"response":{},"status":"ok"}]"##,
    r##"["1",null,"lv:phx-GO6HsevefAsJGgKC","diff",{"1":"1"}]"##,
    r##"["1",null,"lv:phx-GO6HsevefAsJGgKC","diff",{"1":"2"}]"##,
];

/// The inner HTML of the 0.20 page's main view element (the transcript
/// squeezes its whitespace).
pub const DEAD_V020: &str = r##"<h1>Count: 0</h1> <p>Ticks: 0</p> <button phx-click="inc">+1</button> <button phx-click="dec">-1</button> <form phx-submit="set"> <input type="text" name="value" value="0"> <button type="submit">Set</button> </form> <ul id="history"> <li>count 0</li> </ul>"##;

/// The same for the 1.1 page.
pub const DEAD_V11: &str = r##"<h1>Count: 0</h1> <p>Ticks: 0</p> <button phx-click="inc">+1</button> <button phx-click="dec">-1</button> <form phx-submit="set"> <input type="text" name="value" value="0"> <button type="submit">Set</button> </form> <ul id="history"> <li>count 0</li> </ul>"##;
