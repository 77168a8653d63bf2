//! `--format parquet`: one row group per chunk of examples (memory stays
//! flat), two list columns, `input` and `output`, whose element type is the
//! values' (int64, double, boolean or UTF-8 string; ints mixed with floats
//! are doubles, bools mixed with ints are ints), as the Hugging Face hub
//! and pyarrow read them. The element types are fixed by the first chunk.

use std::io::Write;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::diag::{Diag, codes};
use crate::ir::Value;

/// A column's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    Bool,
    Int,
    Float,
    Str,
}

impl Elem {
    fn of(v: &Value) -> Elem {
        match v {
            Value::Bool(_) => Elem::Bool,
            Value::Int(_) => Elem::Int,
            Value::Float(_) => Elem::Float,
            Value::Str(_) => Elem::Str,
        }
    }

    /// The type both fit in, if any.
    fn join(self, other: Elem) -> Option<Elem> {
        use Elem::*;
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Bool, Int) | (Int, Bool) => Some(Int),
            (Int | Bool, Float) | (Float, Int | Bool) => Some(Float),
            _ => None,
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Elem::Bool => "boolean",
            Elem::Int => "int64",
            Elem::Float => "double",
            Elem::Str => "binary",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Elem::Bool => "bools",
            Elem::Int => "ints",
            Elem::Float => "floats",
            Elem::Str => "strings",
        }
    }
}

/// The element type of a column's values (`Int` when it has none).
fn column_type(rows: &[&[Value]], column: &str) -> Result<Elem, Diag> {
    let mut t: Option<Elem> = None;
    for v in rows.iter().flat_map(|r| r.iter()) {
        let e = Elem::of(v);
        t = Some(match t {
            None => e,
            Some(t) => t.join(e).ok_or_else(|| mixed(column, t, e))?,
        });
    }
    Ok(t.unwrap_or(Elem::Int))
}

fn mixed(column: &str, a: Elem, b: Elem) -> Diag {
    Diag::error(
        codes::GEN_OUTPUT,
        format!(
            "the {column} column holds {} and {}, which one Parquet column cannot",
            a.name(),
            b.name()
        ),
    )
    .help("use --format jsonl, which keeps each value's type")
}

fn parquet_error(e: parquet::errors::ParquetError) -> Diag {
    Diag::error(codes::GEN_OUTPUT, format!("cannot write Parquet: {e}"))
}

/// Writes examples as Parquet row groups.
pub struct Sink<'w> {
    out: Option<&'w mut (dyn Write + Send)>,
    writer: Option<SerializedFileWriter<&'w mut (dyn Write + Send)>>,
    types: Option<(Elem, Elem)>,
}

impl<'w> Sink<'w> {
    pub fn new(out: &'w mut (dyn Write + Send)) -> Sink<'w> {
        Sink {
            out: Some(out),
            writer: None,
            types: None,
        }
    }

    /// One row group: `(input, output)` per example.
    pub fn write(&mut self, rows: &[(Vec<Value>, Vec<Value>)]) -> Result<(), Diag> {
        let inputs: Vec<&[Value]> = rows.iter().map(|r| r.0.as_slice()).collect();
        let outputs: Vec<&[Value]> = rows.iter().map(|r| r.1.as_slice()).collect();
        let (ti, to) = match self.types {
            Some(t) => t,
            None => {
                let t = (
                    column_type(&inputs, "input")?,
                    column_type(&outputs, "output")?,
                );
                let schema = format!(
                    "message example {{ required group input (LIST) {{ repeated group list {{ required {} element{}; }} }} required group output (LIST) {{ repeated group list {{ required {} element{}; }} }} }}",
                    t.0.schema(),
                    if t.0 == Elem::Str { " (STRING)" } else { "" },
                    t.1.schema(),
                    if t.1 == Elem::Str { " (STRING)" } else { "" },
                );
                let schema = Arc::new(
                    parquet::schema::parser::parse_message_type(&schema).map_err(parquet_error)?,
                );
                let props = Arc::new(
                    WriterProperties::builder()
                        .set_compression(Compression::SNAPPY)
                        .set_created_by(format!("rasp {}", env!("CARGO_PKG_VERSION")))
                        .build(),
                );
                let out = self.out.take().expect("the output is taken once");
                self.writer =
                    Some(SerializedFileWriter::new(out, schema, props).map_err(parquet_error)?);
                self.types = Some(t);
                t
            }
        };
        let writer = self.writer.as_mut().expect("made above");
        let mut group = writer.next_row_group().map_err(parquet_error)?;
        for (rows, t, name) in [(&inputs, ti, "input"), (&outputs, to, "output")] {
            let mut col = group
                .next_column()
                .map_err(parquet_error)?
                .expect("two columns");
            let (mut def, mut rep) = (Vec::new(), Vec::new());
            for r in rows.iter() {
                if r.is_empty() {
                    def.push(0);
                    rep.push(0);
                }
                for k in 0..r.len() {
                    def.push(1);
                    rep.push(i16::from(k > 0));
                }
            }
            let values = rows.iter().flat_map(|r| r.iter());
            let check = |v: &Value| -> Result<(), Diag> {
                match t.join(Elem::of(v)) {
                    Some(j) if j == t => Ok(()),
                    _ => Err(mixed(name, t, Elem::of(v))),
                }
            };
            let written = match t {
                Elem::Int => {
                    let mut xs = Vec::new();
                    for v in values {
                        check(v)?;
                        xs.push(match v {
                            Value::Int(i) => *i,
                            Value::Bool(b) => i64::from(*b),
                            _ => 0,
                        });
                    }
                    col.typed::<Int64Type>()
                        .write_batch(&xs, Some(&def), Some(&rep))
                }
                Elem::Float => {
                    let mut xs = Vec::new();
                    for v in values {
                        check(v)?;
                        xs.push(v.as_f64().unwrap_or(f64::NAN));
                    }
                    col.typed::<DoubleType>()
                        .write_batch(&xs, Some(&def), Some(&rep))
                }
                Elem::Bool => {
                    let mut xs = Vec::new();
                    for v in values {
                        check(v)?;
                        xs.push(matches!(v, Value::Bool(true)));
                    }
                    col.typed::<BoolType>()
                        .write_batch(&xs, Some(&def), Some(&rep))
                }
                Elem::Str => {
                    let mut xs = Vec::new();
                    for v in values {
                        check(v)?;
                        let s = match v {
                            Value::Str(s) => s.to_string(),
                            other => other.to_string(),
                        };
                        xs.push(ByteArray::from(s.into_bytes()));
                    }
                    col.typed::<ByteArrayType>()
                        .write_batch(&xs, Some(&def), Some(&rep))
                }
            };
            written.map_err(parquet_error)?;
            col.close().map_err(parquet_error)?;
        }
        group.close().map_err(parquet_error)?;
        Ok(())
    }

    /// Write the footer (an empty file still gets its schema).
    pub fn finish(mut self) -> Result<(), Diag> {
        if self.writer.is_none() {
            self.write(&[])?;
        }
        if let Some(w) = self.writer.take() {
            let out = w.into_inner().map_err(parquet_error)?;
            out.flush().map_err(|e| {
                Diag::error(codes::GEN_OUTPUT, format!("cannot write Parquet: {e}"))
            })?;
        }
        Ok(())
    }
}
