//! `rasp lsp`: a language server over stdio (LSP 3.17, UTF-16 positions).
//!
//! Threads: one reads frames from standard input (`framing.rs`) and reads
//! each body as a message (`message.rs`); one writes frames to standard
//! output; this one keeps the protocol's state (initialize, shutdown,
//! exit) and the open documents, and routes each request; every analysis
//! of a document runs on a thread of its own, which then answers requests
//! (`documents.rs`, `analysis.rs`, `features.rs`); formatting and
//! `rasp.verify` run on one more thread. So a slow analysis never holds up
//! a request: it is answered from the latest finished analysis.
//!
//! Nothing a client sends stops the server silently: a body that is no
//! JSON-RPC message gets the protocol's error response; lost framing is
//! found again at the next header (reported on standard error and to the
//! client) or ends the server with status 1 and the reason on standard
//! error; a message over the size limit is refused before it is read
//! (`rasp::limit::message`).

mod analysis;
mod convert;
mod documents;
mod features;
mod framing;
mod message;

use std::io::{self, BufReader, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, LogMessage, Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeLensRequest, Completion, DocumentSymbolRequest, ExecuteCommand, Formatting, GotoDefinition,
    HoverRequest, PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CodeLensOptions, CompletionOptions, ExecuteCommandOptions, LogMessageParams, MessageType,
    OneOf, PositionEncodingKind, PublishDiagnosticsParams, RenameOptions, ServerCapabilities,
    ServerInfo, ShowMessageParams, TextDocumentPositionParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use serde::de::DeserializeOwned;
use serde_json::json;

use analysis::Analysis;
use documents::{Documents, Finished, Fresh, Job};
use framing::{Frame, Loss};
use message::{Answer, Id, Incoming, Params, answer as json, code};

pub use framing::DEFAULT_MAX_MESSAGE_BYTES;

/// How `rasp lsp` was started.
#[derive(Clone, Debug)]
pub struct Options {
    /// The longest message read (`--max-message-bytes`).
    pub max_message_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// What the server's loop receives.
pub(crate) enum Event {
    /// A frame's body, read.
    Message(Incoming),
    /// The framing was lost and found again.
    Resynced { why: Loss, skipped: u64 },
    /// The input ended between frames.
    End,
    /// The framing is lost for good.
    Lost(String),
    /// A document's analysis finished.
    Analysed(Finished),
    /// Standard output cannot be written (the client is gone).
    OutputClosed(String),
}

/// What the writer thread receives.
enum Out {
    Frame(Vec<u8>),
    /// Everything before is written: say so.
    Flushed(Sender<()>),
}

/// Sends frames to the writer thread.
#[derive(Clone)]
struct Outbox(Sender<Out>);

impl Outbox {
    fn send(&self, body: Vec<u8>) {
        // The writer is gone only when the output is closed: reported.
        let _ = self.0.send(Out::Frame(body));
    }

    fn respond(&self, id: &Id, answer: Answer) {
        self.send(message::response(id, answer));
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        self.send(message::notification(method, params));
    }
}

/// A line on standard error (which may be closed: then nothing).
fn log(line: &str) {
    let _ = writeln!(io::stderr(), "rasp lsp: {line}");
}

/// Run `f` on a thread with the stack programs need (an ordinary one if
/// that cannot be had).
pub(crate) fn spawn_big<F: FnOnce() + Send + 'static>(name: &str, f: F) -> io::Result<()> {
    let cell = Arc::new(Mutex::new(Some(f)));
    let body = |cell: Arc<Mutex<Option<F>>>| {
        move || {
            let f = cell.lock().ok().and_then(|mut f| f.take());
            if let Some(f) = f {
                f();
            }
        }
    };
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(crate::api::STACK_BYTES)
        .spawn(body(cell.clone()))
        .or_else(|_| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body(cell))
        })
        .map(drop)
}

/// What the server can do.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        completion_provider: Some(CompletionOptions::default()),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![features::VERIFY_COMMAND.into()],
            work_done_progress_options: Default::default(),
        }),
        ..ServerCapabilities::default()
    }
}

/// Serve on stdin/stdout until the client says `exit`; the exit status:
/// 0 after `shutdown` then `exit`, 1 otherwise (with the reason on
/// standard error).
pub fn run(options: &Options) -> i32 {
    // Bounded: a client that sends faster than the server reads waits.
    let (events_tx, events) = mpsc::sync_channel::<Event>(256);
    let (out_tx, out_rx) = mpsc::channel::<Out>();
    let reader_events = events_tx.clone();
    let max = options.max_message_bytes;
    let reader = std::thread::Builder::new()
        .name("rasp lsp reader".into())
        .spawn(move || read_input(max, &reader_events));
    let writer_events = events_tx.clone();
    let writer = std::thread::Builder::new()
        .name("rasp lsp writer".into())
        .spawn(move || write_output(&out_rx, &writer_events));
    if reader.is_err() || writer.is_err() {
        log("cannot start its threads");
        return 1;
    }
    let out = Outbox(out_tx);
    let mut server = Server {
        state: State::Uninitialized,
        docs: Documents::new(events_tx),
        out: out.clone(),
        tasks: None,
    };
    let status = server.serve(&events);
    server.docs.shutdown();
    // Let the writer finish what is queued (unless the client no longer
    // reads).
    let (done, flushed) = mpsc::channel();
    if out.0.send(Out::Flushed(done)).is_ok() {
        let _ = flushed.recv_timeout(Duration::from_secs(5));
    }
    status
}

/// The reader thread: frames from standard input, each read as a message.
fn read_input(max: u64, events: &SyncSender<Event>) {
    let mut reader = framing::Reader::new(BufReader::with_capacity(1 << 16, io::stdin()), max);
    loop {
        let event = match reader.next_frame() {
            Frame::Body(body) => Event::Message(message::parse(&body)),
            Frame::Resynced { why, skipped } => Event::Resynced { why, skipped },
            Frame::End => Event::End,
            Frame::Lost(why) => Event::Lost(why),
        };
        let last = matches!(event, Event::End | Event::Lost(_));
        if events.send(event).is_err() || last {
            return;
        }
    }
}

/// The writer thread: frames to standard output, until it fails.
fn write_output(frames: &Receiver<Out>, events: &SyncSender<Event>) {
    let mut stdout = io::stdout().lock();
    for out in frames {
        match out {
            Out::Frame(body) => {
                if let Err(e) = framing::write_frame(&mut stdout, &body) {
                    let _ = events.send(Event::OutputClosed(e.to_string()));
                    return;
                }
            }
            Out::Flushed(done) => {
                let _ = done.send(());
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Uninitialized,
    Running,
    /// `shutdown` was received: only `exit` is accepted.
    ShutDown,
}

struct Server {
    state: State,
    docs: Documents,
    out: Outbox,
    /// The thread for formatting and `rasp.verify` (started when needed).
    tasks: Option<Sender<Box<dyn FnOnce() + Send>>>,
}

fn internal() -> (i32, String) {
    (
        code::INTERNAL_ERROR,
        "rasp lsp: internal error (a bug) while answering".into(),
    )
}

impl Server {
    fn serve(&mut self, events: &Receiver<Event>) -> i32 {
        for event in events {
            match event {
                Event::Message(m) => match catch_unwind(AssertUnwindSafe(|| self.message(m))) {
                    Ok(Some(status)) => return status,
                    Ok(None) => {}
                    Err(_) => log("internal error (a bug) while handling a message; going on"),
                },
                Event::Resynced { why, skipped } => self.resynced(&why, skipped),
                Event::End if self.state == State::ShutDown => return 0,
                Event::End => {
                    log("the client closed the connection without `shutdown` and `exit`");
                    return 1;
                }
                Event::Lost(why) => {
                    log(&format!("lost the message framing: {why}; stopping"));
                    return 1;
                }
                Event::Analysed(f) => {
                    let publish = self.docs.finished(f);
                    if let Some((uri, diagnostics, version)) = publish
                        && self.state == State::Running
                    {
                        let params = PublishDiagnosticsParams {
                            uri,
                            diagnostics,
                            version,
                        };
                        self.out.notify(PublishDiagnostics::METHOD, params);
                    }
                }
                Event::OutputClosed(why) => {
                    log(&format!("cannot write to the client ({why}); stopping"));
                    return 1;
                }
            }
        }
        // Every sender is gone: cannot happen while this loop holds one.
        1
    }

    /// Framing lost and found again: said on standard error, and to the
    /// client once it may be told.
    fn resynced(&self, why: &Loss, skipped: u64) {
        let text =
            format!("lost the message framing ({why}); skipped {skipped} bytes to the next header");
        log(&text);
        if self.state == State::Running {
            let typ = MessageType::ERROR;
            let message = format!("rasp lsp: {text}");
            // Over the limit: the user can do something (raise it).
            if why.code.is_some() {
                self.out
                    .notify(ShowMessage::METHOD, ShowMessageParams { typ, message });
            } else {
                self.out
                    .notify(LogMessage::METHOD, LogMessageParams { typ, message });
            }
        }
    }

    /// Handle a message; the exit status once the server must stop.
    fn message(&mut self, m: Incoming) -> Option<i32> {
        match m {
            Incoming::Invalid { id, code, message } => {
                log(&format!(
                    "answered a message that is not JSON-RPC: {message}"
                ));
                self.out.send(message::error(id.as_ref(), code, &message));
            }
            Incoming::Response => {}
            Incoming::Notification { method, .. } if method == "exit" => {
                return Some(if self.state == State::ShutDown {
                    0
                } else {
                    log("`exit` without `shutdown`: exit status 1, as the protocol says");
                    1
                });
            }
            Incoming::Notification { method, params } => {
                if self.state == State::Running {
                    self.notification(&method, &params);
                }
            }
            Incoming::Request { id, method, params } => match self.state {
                State::Uninitialized if method == "initialize" => {
                    let init = json!({
                        "capabilities": capabilities(),
                        "serverInfo": ServerInfo {
                            name: "rasp".into(),
                            version: Some(env!("CARGO_PKG_VERSION").into()),
                        },
                    });
                    self.out.respond(&id, json(init));
                    self.state = State::Running;
                }
                State::Uninitialized => self.out.respond(
                    &id,
                    Err((
                        code::SERVER_NOT_INITIALIZED,
                        format!("{method} before initialize"),
                    )),
                ),
                State::ShutDown => self.out.respond(
                    &id,
                    Err((
                        code::INVALID_REQUEST,
                        format!("{method} after shutdown: only the exit notification is accepted"),
                    )),
                ),
                State::Running if method == "initialize" => self.out.respond(
                    &id,
                    Err((
                        code::INVALID_REQUEST,
                        "initialize: already initialized".into(),
                    )),
                ),
                State::Running if method == "shutdown" => {
                    self.state = State::ShutDown;
                    self.docs.shutdown();
                    self.out.respond(&id, json(()));
                }
                State::Running => self.request(id, &method, &params),
            },
        }
        None
    }

    fn notification(&mut self, method: &str, params: &Params) {
        fn read<P: DeserializeOwned>(method: &str, params: &Params) -> Option<P> {
            params
                .parse()
                .map_err(|e| {
                    log(&format!(
                        "{method}: ignored, its parameters are not valid: {e}"
                    ))
                })
                .ok()
        }
        match method {
            DidOpenTextDocument::METHOD => {
                if let Some(p) = read::<lsp_types::DidOpenTextDocumentParams>(method, params) {
                    let d = p.text_document;
                    self.docs.update(d.uri, d.text, Some(d.version));
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Some(p) = read::<lsp_types::DidChangeTextDocumentParams>(method, params)
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    let d = p.text_document;
                    self.docs.update(d.uri, change.text, Some(d.version));
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Some(p) = read::<lsp_types::DidCloseTextDocumentParams>(method, params) {
                    let uri = p.text_document.uri;
                    self.docs.close(&uri);
                    let clear = PublishDiagnosticsParams {
                        uri,
                        diagnostics: Vec::new(),
                        version: None,
                    };
                    self.out.notify(PublishDiagnostics::METHOD, clear);
                }
            }
            // A file on disk changed: what the open documents load may have.
            DidSaveTextDocument::METHOD | DidChangeWatchedFiles::METHOD => self.docs.refresh(),
            _ => {}
        }
    }

    fn request(&mut self, id: Id, method: &str, params: &Params) {
        type Tdp = TextDocumentPositionParams;
        match method {
            HoverRequest::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::HoverParams| &p.text_document_position_params.text_document.uri,
                |a, _, p| {
                    json(features::hover(
                        a,
                        offset(a, &p.text_document_position_params),
                    ))
                },
            ),
            GotoDefinition::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::GotoDefinitionParams| {
                    &p.text_document_position_params.text_document.uri
                },
                |a, uri, p| {
                    json(features::definition(
                        a,
                        offset(a, &p.text_document_position_params),
                        uri,
                    ))
                },
            ),
            References::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::ReferenceParams| &p.text_document_position.text_document.uri,
                |a, uri, p| {
                    let off = offset(a, &p.text_document_position);
                    json(features::references(
                        a,
                        off,
                        p.context.include_declaration,
                        uri,
                    ))
                },
            ),
            PrepareRenameRequest::METHOD => self.on_doc(
                id,
                params,
                Fresh::Latest,
                |p: &Tdp| &p.text_document.uri,
                |a, _, p| {
                    let r = features::prepare_rename(a, offset(a, &p))
                        .map_err(|m| (code::REQUEST_FAILED, m))?;
                    json(r)
                },
            ),
            Rename::METHOD => self.on_doc(
                id,
                params,
                Fresh::Latest,
                |p: &lsp_types::RenameParams| &p.text_document_position.text_document.uri,
                |a, uri, p| {
                    let off = offset(a, &p.text_document_position);
                    let edit = features::rename(a, off, &p.new_name, uri)
                        .map_err(|m| (code::REQUEST_FAILED, m))?;
                    json(edit)
                },
            ),
            Completion::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::CompletionParams| &p.text_document_position.text_document.uri,
                |a, _, p| {
                    json(features::completion(
                        a,
                        offset(a, &p.text_document_position),
                    ))
                },
            ),
            DocumentSymbolRequest::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::DocumentSymbolParams| &p.text_document.uri,
                |a, _, _| json(features::symbols(a)),
            ),
            CodeLensRequest::METHOD => self.on_doc(
                id,
                params,
                Fresh::Any,
                |p: &lsp_types::CodeLensParams| &p.text_document.uri,
                |a, uri, _| json(features::code_lenses(a, uri)),
            ),
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams = match params.parse() {
                    Ok(p) => p,
                    Err(e) => return self.bad_params(&id, method, &e),
                };
                // The latest text, not the latest analysis's: the edit
                // replaces the whole document.
                let Some(text) = self.docs.text(&p.text_document.uri).map(str::to_string) else {
                    return self.not_open(&id, &p.text_document.uri);
                };
                self.task(id, move || {
                    let edits =
                        features::formatting(&text).map_err(|m| (code::REQUEST_FAILED, m))?;
                    json(edits)
                });
            }
            ExecuteCommand::METHOD => {
                let p: lsp_types::ExecuteCommandParams = match params.parse() {
                    Ok(p) => p,
                    Err(e) => return self.bad_params(&id, method, &e),
                };
                self.execute(id, p);
            }
            other => self.out.respond(
                &id,
                Err((
                    code::METHOD_NOT_FOUND,
                    format!("rasp lsp does not answer {other}"),
                )),
            ),
        }
    }

    fn bad_params(&self, id: &Id, method: &str, e: &serde_json::Error) {
        self.out
            .respond(id, Err((code::INVALID_PARAMS, format!("{method}: {e}"))));
    }

    fn not_open(&self, id: &Id, uri: &Uri) {
        self.out.respond(
            id,
            Err((
                code::INVALID_PARAMS,
                format!("{} is not open", uri.as_str()),
            )),
        );
    }

    /// Answer a request about a document from its analysis.
    fn on_doc<P: DeserializeOwned + Send + 'static>(
        &mut self,
        id: Id,
        params: &Params,
        fresh: Fresh,
        uri_of: fn(&P) -> &Uri,
        answer: fn(&Analysis, &Uri, P) -> Answer,
    ) {
        let p: P = match params.parse() {
            Ok(p) => p,
            Err(e) => {
                self.out.respond(
                    &id,
                    Err((code::INVALID_PARAMS, format!("invalid parameters: {e}"))),
                );
                return;
            }
        };
        let uri = uri_of(&p).clone();
        let out = self.out.clone();
        let job_id = id.clone();
        let job_uri = uri.clone();
        let job: Job = Box::new(move |a| {
            let result = match a {
                Some(a) => catch_unwind(AssertUnwindSafe(|| answer(a, &job_uri, p)))
                    .unwrap_or_else(|_| Err(internal())),
                None => Err((
                    code::REQUEST_FAILED,
                    format!("{} could not be analysed", job_uri.as_str()),
                )),
            };
            out.respond(&job_id, result);
        });
        if !self.docs.ask(&uri, fresh, job) {
            self.not_open(&id, &uri);
        }
    }

    /// Answer a request on the tasks thread.
    fn task(&mut self, id: Id, work: impl FnOnce() -> Answer + Send + 'static) {
        let out = self.out.clone();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let answer = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(internal()));
            out.respond(&id, answer);
        });
        if self.tasks.is_none() {
            let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
            let started = spawn_big("rasp lsp tasks", move || {
                for job in rx {
                    job();
                }
            });
            if started.is_ok() {
                self.tasks = Some(tx);
            }
        }
        match &self.tasks {
            Some(tx) => {
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    job();
                }
            }
            // No thread to be had: here.
            None => job(),
        }
    }

    /// `rasp.verify [uri, sop, vocab, maxLen]`: the report is shown to the
    /// user (`window/showMessage`) and returned.
    fn execute(&mut self, id: Id, p: lsp_types::ExecuteCommandParams) {
        let bad = || {
            (
                code::INVALID_PARAMS,
                format!(
                    "{} takes [uri, sop, vocab, maxLen]",
                    features::VERIFY_COMMAND
                ),
            )
        };
        let args = (|| {
            if p.command != features::VERIFY_COMMAND {
                return Err((code::INVALID_PARAMS, format!("no command {}", p.command)));
            }
            let [uri, sop, vocab, max_len] = p.arguments.as_slice() else {
                return Err(bad());
            };
            let uri: Uri = uri.as_str().and_then(|u| u.parse().ok()).ok_or_else(bad)?;
            let sop = sop.as_str().ok_or_else(bad)?.to_string();
            let vocab = vocab.as_str().ok_or_else(bad)?.to_string();
            let max_len = usize::try_from(max_len.as_u64().ok_or_else(bad)?).map_err(|_| bad())?;
            Ok((uri, sop, vocab, max_len))
        })();
        let (uri, sop, vocab, max_len) = match args {
            Ok(a) => a,
            Err(e) => return self.out.respond(&id, Err(e)),
        };
        // An open document's latest text; one that is not open is read
        // from disk (and not kept).
        let path = convert::uri_to_path(&uri);
        let open = self.docs.text(&uri).map(str::to_string);
        if open.is_none() && path.is_none() {
            return self.out.respond(&id, Err(bad()));
        }
        let out = self.out.clone();
        self.task(id, move || {
            let text = match open {
                Some(t) => t,
                None => {
                    let path = path.as_ref().ok_or_else(bad)?;
                    crate::fsio::read::read_text(path)
                        .map_err(|e| (code::INVALID_PARAMS, format!("{}: {e}", path.display())))?
                }
            };
            let name = path
                .as_ref()
                .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
            let a = Analysis::new(text, path, &name, Arc::new(AtomicBool::new(false)));
            let (typ, message) = match features::verify(&a, &sop, &vocab, max_len) {
                Ok(m) => (MessageType::INFO, m),
                Err(m) => (MessageType::ERROR, m),
            };
            let shown = ShowMessageParams {
                typ,
                message: message.clone(),
            };
            out.notify(ShowMessage::METHOD, shown);
            json(json!({ "ok": typ == MessageType::INFO, "message": message }))
        });
    }
}

/// The byte offset of a position in the analysed text.
fn offset(a: &Analysis, p: &TextDocumentPositionParams) -> u32 {
    a.lines.offset(&a.text, p.position) as u32
}
