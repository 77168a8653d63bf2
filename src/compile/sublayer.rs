//! Where a block runs: the embedding, or the attention or MLP sublayer of a
//! layer. The type carries the ordering rules the schedule relies on: a
//! head reads what was written before its attention sublayer, an MLP what
//! was written before its MLP sublayer, and the two alternate.

use std::fmt;

/// A sublayer, totally ordered in execution order: the embedding, then
/// layer 0's attention, layer 0's MLP, layer 1's attention, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sublayer(
    /// -1: embedding; 2l: attention of layer l; 2l + 1: MLP of layer l.
    i64,
);

/// What kind of sublayer it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SublayerKind {
    Embed,
    Attn,
    Mlp,
}

impl Sublayer {
    pub const EMBED: Sublayer = Sublayer(-1);

    pub fn attn(layer: usize) -> Sublayer {
        Sublayer(2 * layer as i64)
    }

    pub fn mlp(layer: usize) -> Sublayer {
        Sublayer(2 * layer as i64 + 1)
    }

    pub fn kind(self) -> SublayerKind {
        match self.0 {
            i if i < 0 => SublayerKind::Embed,
            i if i % 2 == 0 => SublayerKind::Attn,
            _ => SublayerKind::Mlp,
        }
    }

    /// The layer (none for the embedding).
    pub fn layer(self) -> Option<usize> {
        (self.0 >= 0).then_some((self.0 / 2) as usize)
    }

    /// The first attention sublayer that sees what this one wrote.
    pub fn next_attn(self) -> Sublayer {
        match self.kind() {
            SublayerKind::Embed => Sublayer::attn(0),
            SublayerKind::Attn => Sublayer(self.0 + 2),
            SublayerKind::Mlp => Sublayer(self.0 + 1),
        }
    }

    /// The first MLP sublayer that sees what this one wrote.
    pub fn next_mlp(self) -> Sublayer {
        match self.kind() {
            SublayerKind::Embed => Sublayer::mlp(0),
            SublayerKind::Attn => Sublayer(self.0 + 1),
            SublayerKind::Mlp => Sublayer(self.0 + 2),
        }
    }

    /// The attention sublayer of the same layer (for an MLP), itself for
    /// attention.
    pub fn attn_of_layer(self) -> Option<Sublayer> {
        self.layer().map(Sublayer::attn)
    }

    /// `embed`, `attn` or `mlp` (the names `rasp.json` uses).
    pub fn kind_name(self) -> &'static str {
        match self.kind() {
            SublayerKind::Embed => "embed",
            SublayerKind::Attn => "attn",
            SublayerKind::Mlp => "mlp",
        }
    }

    /// Every sublayer of a model with `n_layers` layers, in order (the
    /// embedding excluded).
    pub fn all(n_layers: usize) -> impl Iterator<Item = Sublayer> {
        (0..2 * n_layers as i64).map(Sublayer)
    }

    /// Layers needed to run everything up to and including `last`.
    pub fn layers_through(last: Option<Sublayer>) -> usize {
        last.and_then(Sublayer::layer).map_or(0, |l| l + 1)
    }
}

impl fmt::Display for Sublayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer() {
            None => write!(f, "the embedding"),
            Some(l) => write!(f, "layer {l} ({})", self.kind_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_and_mlp_alternate() {
        let e = Sublayer::EMBED;
        assert_eq!(e.next_attn(), Sublayer::attn(0));
        assert_eq!(e.next_mlp(), Sublayer::mlp(0));
        assert_eq!(Sublayer::attn(0).next_mlp(), Sublayer::mlp(0));
        assert_eq!(Sublayer::attn(0).next_attn(), Sublayer::attn(1));
        assert_eq!(Sublayer::mlp(0).next_attn(), Sublayer::attn(1));
        assert_eq!(Sublayer::mlp(0).next_mlp(), Sublayer::mlp(1));
        assert!(e < Sublayer::attn(0) && Sublayer::attn(0) < Sublayer::mlp(0));
        assert!(Sublayer::mlp(0) < Sublayer::attn(1));
        assert_eq!(Sublayer::mlp(3).layer(), Some(3));
        assert_eq!(e.layer(), None);
        assert_eq!(Sublayer::layers_through(Some(Sublayer::attn(2))), 3);
        assert_eq!(Sublayer::layers_through(Some(e)), 0);
        assert_eq!(Sublayer::all(2).count(), 4);
    }
}
