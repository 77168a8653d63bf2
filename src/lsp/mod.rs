//! `rasp lsp`: a language server over stdio (LSP 3.17, UTF-16 positions).
//! Each open document is analysed on every change (`analysis.rs`: parsed,
//! its names indexed, run by the front end) and its diagnostics published;
//! requests are answered from the analysis (`features.rs`).

mod analysis;
mod convert;
mod features;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeLensRequest, Completion, DocumentSymbolRequest, ExecuteCommand, Formatting, GotoDefinition,
    HoverRequest, PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CodeLensOptions, CompletionOptions, ExecuteCommandOptions, MessageType, OneOf,
    PositionEncodingKind, PublishDiagnosticsParams, RenameOptions, ServerCapabilities, ServerInfo,
    ShowMessageParams, TextDocumentPositionParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};

use analysis::Analysis;

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

/// Serve on stdin/stdout until the client says `exit`; the exit status.
pub fn run() -> i32 {
    let (connection, io) = Connection::stdio();
    let init = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo {
            name: "rasp".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    let started = connection
        .initialize_start()
        .and_then(|(id, _params)| connection.initialize_finish(id, init));
    if let Err(e) = started {
        errln!("rasp lsp: the client did not initialize: {e}");
        return 1;
    }
    let mut server = Server {
        connection: &connection,
        docs: HashMap::new(),
    };
    let status = server.serve();
    drop(server);
    drop(connection);
    let _ = io.join();
    status
}

struct Server<'c> {
    connection: &'c Connection,
    docs: HashMap<Uri, Analysis>,
}

/// A request's failure: a protocol error code and a message.
type Failure = (ErrorCode, String);

impl Server<'_> {
    fn serve(&mut self) -> i32 {
        while let Ok(msg) = self.connection.receiver.recv() {
            match msg {
                Message::Request(req) => {
                    match self.connection.handle_shutdown(&req) {
                        Ok(true) => return 0,
                        Ok(false) => {}
                        Err(_) => return 1,
                    }
                    let id = req.id.clone();
                    let response = match catch_unwind(AssertUnwindSafe(|| self.request(req))) {
                        Ok(Ok(value)) => Response::new_ok(id, value),
                        Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
                        Err(_) => Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            "rasp lsp: internal error (a bug) while answering".into(),
                        ),
                    };
                    self.send(Message::Response(response));
                }
                Message::Notification(n) => {
                    let _ = catch_unwind(AssertUnwindSafe(|| self.notification(n)));
                }
                Message::Response(_) => {}
            }
        }
        0
    }

    fn send(&self, msg: Message) {
        let _ = self.connection.sender.send(msg);
    }

    fn notify<P: serde::Serialize>(&self, method: &str, params: P) {
        self.send(Message::Notification(Notification::new(method.into(), params)));
    }

    /// Analyse a document's new text and publish its diagnostics.
    fn open(&mut self, uri: Uri, text: String, version: Option<i32>) {
        let path = convert::uri_to_path(&uri);
        let name = path
            .as_ref()
            .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
        let a = Analysis::new(text, path, &name);
        let diagnostics = features::diagnostics(&a, &uri);
        self.docs.insert(uri.clone(), a);
        self.notify(
            PublishDiagnostics::METHOD,
            PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            },
        );
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD) {
                    let d = p.text_document;
                    self.open(d.uri, d.text, Some(d.version));
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidChangeTextDocumentParams>(DidChangeTextDocument::METHOD)
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    let d = p.text_document;
                    self.open(d.uri, change.text, Some(d.version));
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    let uri = p.text_document.uri;
                    self.docs.remove(&uri);
                    self.notify(
                        PublishDiagnostics::METHOD,
                        PublishDiagnosticsParams {
                            uri,
                            diagnostics: Vec::new(),
                            version: None,
                        },
                    );
                }
            }
            // A file on disk changed: what the open documents load may have.
            DidSaveTextDocument::METHOD | DidChangeWatchedFiles::METHOD => {
                let open: Vec<(Uri, String)> = self
                    .docs
                    .iter()
                    .map(|(u, a)| (u.clone(), a.text.clone()))
                    .collect();
                for (uri, text) in open {
                    self.open(uri, text, None);
                }
            }
            _ => {}
        }
    }

    fn doc(&self, uri: &Uri) -> Result<&Analysis, Failure> {
        self.docs.get(uri).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("{} is not open", uri.as_str()),
            )
        })
    }

    /// The document and byte offset of a position.
    fn at(&self, p: &TextDocumentPositionParams) -> Result<(&Analysis, u32), Failure> {
        let a = self.doc(&p.text_document.uri)?;
        Ok((a, a.lines.offset(&a.text, p.position) as u32))
    }

    fn request(&mut self, req: Request) -> Result<serde_json::Value, Failure> {
        fn params<P: serde::de::DeserializeOwned>(req: Request, method: &str) -> Result<P, Failure> {
            req.extract(method)
                .map(|(_, p)| p)
                .map_err(|e| (ErrorCode::InvalidParams, format!("{method}: {e:?}")))
        }
        let json = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| (ErrorCode::InternalError, e.to_string()))
        };
        match req.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp_types::HoverParams = params(req, HoverRequest::METHOD)?;
                let (a, off) = self.at(&p.text_document_position_params)?;
                json(serde_json::to_value(features::hover(a, off)))
            }
            GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams = params(req, GotoDefinition::METHOD)?;
                let uri = p.text_document_position_params.text_document.uri.clone();
                let (a, off) = self.at(&p.text_document_position_params)?;
                json(serde_json::to_value(features::definition(a, off, &uri)))
            }
            References::METHOD => {
                let p: lsp_types::ReferenceParams = params(req, References::METHOD)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (a, off) = self.at(&p.text_document_position)?;
                let refs = features::references(a, off, p.context.include_declaration, &uri);
                json(serde_json::to_value(refs))
            }
            PrepareRenameRequest::METHOD => {
                let p: TextDocumentPositionParams = params(req, PrepareRenameRequest::METHOD)?;
                let (a, off) = self.at(&p)?;
                let r = features::prepare_rename(a, off).map_err(|m| (ErrorCode::RequestFailed, m))?;
                json(serde_json::to_value(r))
            }
            Rename::METHOD => {
                let p: lsp_types::RenameParams = params(req, Rename::METHOD)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (a, off) = self.at(&p.text_document_position)?;
                let edit = features::rename(a, off, &p.new_name, &uri)
                    .map_err(|m| (ErrorCode::RequestFailed, m))?;
                json(serde_json::to_value(edit))
            }
            Completion::METHOD => {
                let p: lsp_types::CompletionParams = params(req, Completion::METHOD)?;
                let (a, off) = self.at(&p.text_document_position)?;
                json(serde_json::to_value(features::completion(a, off)))
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams = params(req, DocumentSymbolRequest::METHOD)?;
                let a = self.doc(&p.text_document.uri)?;
                json(serde_json::to_value(features::symbols(a)))
            }
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams = params(req, Formatting::METHOD)?;
                let a = self.doc(&p.text_document.uri)?;
                let edits = features::formatting(a).map_err(|m| (ErrorCode::RequestFailed, m))?;
                json(serde_json::to_value(edits))
            }
            CodeLensRequest::METHOD => {
                let p: lsp_types::CodeLensParams = params(req, CodeLensRequest::METHOD)?;
                let uri = p.text_document.uri.clone();
                let a = self.doc(&uri)?;
                json(serde_json::to_value(features::code_lenses(a, &uri)))
            }
            ExecuteCommand::METHOD => {
                let p: lsp_types::ExecuteCommandParams = params(req, ExecuteCommand::METHOD)?;
                self.execute(p)
            }
            other => Err((
                ErrorCode::MethodNotFound,
                format!("rasp lsp does not answer {other}"),
            )),
        }
    }

    /// `rasp.verify [uri, sop, vocab, maxLen]`: the report is shown to the
    /// user (`window/showMessage`) and returned.
    fn execute(&mut self, p: lsp_types::ExecuteCommandParams) -> Result<serde_json::Value, Failure> {
        if p.command != features::VERIFY_COMMAND {
            return Err((ErrorCode::InvalidParams, format!("no command {}", p.command)));
        }
        let bad = || {
            (
                ErrorCode::InvalidParams,
                format!(
                    "{} takes [uri, sop, vocab, maxLen]",
                    features::VERIFY_COMMAND
                ),
            )
        };
        let [uri, sop, vocab, max_len] = p.arguments.as_slice() else {
            return Err(bad());
        };
        let uri: Uri = uri.as_str().and_then(|u| u.parse().ok()).ok_or_else(bad)?;
        let sop = sop.as_str().ok_or_else(bad)?;
        let vocab = vocab.as_str().ok_or_else(bad)?;
        let max_len = max_len.as_u64().ok_or_else(bad)? as usize;
        // A document that is not open is read from disk, not kept.
        let read;
        let a = match self.docs.get(&uri) {
            Some(a) => a,
            None => {
                let path = convert::uri_to_path(&uri).ok_or_else(bad)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| (ErrorCode::InvalidParams, format!("{}: {e}", path.display())))?;
                let name = path.display().to_string();
                read = Analysis::new(text, Some(path), &name);
                &read
            }
        };
        let (typ, message) = match features::verify(a, sop, vocab, max_len) {
            Ok(m) => (MessageType::INFO, m),
            Err(m) => (MessageType::ERROR, m),
        };
        self.notify(
            ShowMessage::METHOD,
            ShowMessageParams {
                typ,
                message: message.clone(),
            },
        );
        Ok(serde_json::json!({ "ok": typ == MessageType::INFO, "message": message }))
    }
}
