//! Open documents, analysed in the background.
//!
//! Each analysis runs on a thread of its own (a front-end session is not
//! `Send`, so the thread that builds an [`Analysis`] keeps it): once it is
//! built, the thread reports the document's diagnostics and then answers
//! the jobs sent to it (requests) until a newer analysis replaces it. A
//! document has at most one analysis being built; changes that arrive
//! meanwhile are coalesced (the latest text is analysed next, the
//! versions between are skipped). Requests are answered by the latest
//! finished analysis, so they never wait for one in progress, except
//! those whose answer edits the text (rename), which wait for the
//! analysis of the latest text. Closing a document or shutting down
//! interrupts the analysis in progress.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};

use lsp_types::{Diagnostic, Uri};

use super::analysis::Analysis;
use super::{Event, convert, features};

/// A request to answer from an analysis (`None`: there is none to be had,
/// e.g. the analysis failed).
pub type Job = Box<dyn FnOnce(Option<&Analysis>) + Send>;

/// Which analysis a request may be answered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    /// The latest finished one (it may be of an older version).
    Any,
    /// The one of the latest text (answers that edit the text).
    Latest,
}

/// An analysis finished (`diagnostics` is `None` when it failed: a bug).
pub struct Finished {
    pub uri: Uri,
    pub generation: u64,
    pub version: Option<i32>,
    pub diagnostics: Option<Vec<Diagnostic>>,
}

/// A thread holding (or building) one analysis.
struct Actor {
    generation: u64,
    jobs: Sender<Job>,
    interrupt: Arc<AtomicBool>,
}

impl Actor {
    fn spawn(
        uri: Uri,
        text: String,
        version: Option<i32>,
        generation: u64,
        events: SyncSender<Event>,
    ) -> Actor {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let interrupt = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let report = events.clone();
        let report_uri = uri.clone();
        let work = move || {
            let built = catch_unwind(AssertUnwindSafe(|| {
                let path = convert::uri_to_path(&uri);
                let name = path
                    .as_ref()
                    .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
                let a = Analysis::new(text, path, &name, flag);
                let diagnostics = features::diagnostics(&a, &uri);
                (a, diagnostics)
            }));
            let (analysis, diagnostics) = match built {
                Ok((a, d)) => (Some(a), Some(d)),
                Err(_) => (None, None),
            };
            let _ = events.send(Event::Analysed(Finished {
                uri,
                generation,
                version,
                diagnostics,
            }));
            // Until the server drops this actor (a newer analysis, the
            // document closed).
            for job in inbox {
                let _ = catch_unwind(AssertUnwindSafe(|| job(analysis.as_ref())));
            }
        };
        if super::spawn_big("rasp lsp analysis", work).is_err() {
            // No thread to be had: the analysis failed.
            let _ = report.send(Event::Analysed(Finished {
                uri: report_uri,
                generation,
                version,
                diagnostics: None,
            }));
        }
        Actor {
            generation,
            jobs,
            interrupt,
        }
    }

    /// Hand a job over; the actor's thread runs it. A job it can no longer
    /// take is run here without an analysis.
    fn send(&self, job: Job) {
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job(None);
        }
    }

    fn cancel(&self) {
        self.interrupt.store(true, Ordering::Relaxed);
    }
}

struct Doc {
    /// The latest text the client sent, and its version.
    text: String,
    version: Option<i32>,
    /// Of the latest text (server-wide, so a reopened document never
    /// mistakes an old analysis for a new one).
    generation: u64,
    /// The latest finished analysis.
    current: Option<Actor>,
    /// The analysis being built.
    building: Option<Actor>,
    /// Jobs for the analysis of the latest text, not started yet (one of
    /// an older text is being built).
    waiting: Vec<Job>,
}

impl Doc {
    /// The latest text's analysis has not started.
    fn stale(&self) -> bool {
        let started =
            |a: &Option<Actor>| a.as_ref().is_some_and(|a| a.generation == self.generation);
        !started(&self.building) && !started(&self.current)
    }
}

/// The open documents.
pub struct Documents {
    docs: HashMap<Uri, Doc>,
    generation: u64,
    events: SyncSender<Event>,
}

impl Documents {
    pub fn new(events: SyncSender<Event>) -> Documents {
        Documents {
            docs: HashMap::new(),
            generation: 0,
            events,
        }
    }

    /// The latest text of an open document.
    pub fn text(&self, uri: &Uri) -> Option<&str> {
        self.docs.get(uri).map(|d| d.text.as_str())
    }

    /// A document opened or changed: its new text is analysed once the
    /// analysis in progress (if any) is done.
    pub fn update(&mut self, uri: Uri, text: String, version: Option<i32>) {
        self.generation += 1;
        let generation = self.generation;
        let doc = self.docs.entry(uri.clone()).or_insert_with(|| Doc {
            text: String::new(),
            version: None,
            generation,
            current: None,
            building: None,
            waiting: Vec::new(),
        });
        doc.text = text;
        doc.version = version;
        doc.generation = generation;
        if doc.building.is_none() {
            Self::start(&uri, doc, &self.events);
        }
    }

    /// Analyse every open document again (a file they may load changed).
    pub fn refresh(&mut self) {
        let uris: Vec<(Uri, String, Option<i32>)> = self
            .docs
            .iter()
            .map(|(u, d)| (u.clone(), d.text.clone(), d.version))
            .collect();
        for (uri, text, version) in uris {
            self.update(uri, text, version);
        }
    }

    fn start(uri: &Uri, doc: &mut Doc, events: &SyncSender<Event>) {
        let actor = Actor::spawn(
            uri.clone(),
            doc.text.clone(),
            doc.version,
            doc.generation,
            events.clone(),
        );
        for job in doc.waiting.drain(..) {
            actor.send(job);
        }
        doc.building = Some(actor);
    }

    /// An analysis finished: it becomes the document's current one; the
    /// diagnostics to publish, if it is of an open document (and did not
    /// fail). The latest text is analysed next if it is not yet.
    pub fn finished(&mut self, f: Finished) -> Option<(Uri, Vec<Diagnostic>, Option<i32>)> {
        let doc = self.docs.get_mut(&f.uri)?;
        let building = doc.building.take_if(|b| b.generation == f.generation)?;
        let publish = match f.diagnostics {
            Some(d) => {
                doc.current = Some(building);
                Some((f.uri.clone(), d, f.version))
            }
            // A failed analysis answers its jobs without one; the previous
            // one stays.
            None => None,
        };
        if doc.stale() {
            Self::start(&f.uri, doc, &self.events);
        } else if doc.current.is_none() && doc.building.is_none() {
            for job in doc.waiting.drain(..) {
                job(None);
            }
        }
        publish
    }

    /// Answer `job` from the document's analysis (false: it is not open).
    pub fn ask(&mut self, uri: &Uri, fresh: Fresh, job: Job) -> bool {
        let Some(doc) = self.docs.get_mut(uri) else {
            return false;
        };
        let latest = |a: &&Actor| a.generation == doc.generation;
        let target = match fresh {
            Fresh::Any => doc.current.as_ref().or(doc.building.as_ref()),
            Fresh::Latest => doc
                .current
                .as_ref()
                .filter(latest)
                .or(doc.building.as_ref().filter(latest)),
        };
        match target {
            Some(actor) => actor.send(job),
            None if doc.building.is_some() => doc.waiting.push(job),
            None => job(None),
        }
        true
    }

    /// Close a document: its analysis in progress is interrupted; jobs
    /// waiting for one are answered without.
    pub fn close(&mut self, uri: &Uri) {
        if let Some(doc) = self.docs.remove(uri) {
            if let Some(b) = &doc.building {
                b.cancel();
            }
            for job in doc.waiting {
                job(None);
            }
        }
    }

    /// Interrupt every analysis in progress and forget the documents.
    pub fn shutdown(&mut self) {
        let uris: Vec<Uri> = self.docs.keys().cloned().collect();
        for uri in uris {
            self.close(&uri);
        }
    }
}
