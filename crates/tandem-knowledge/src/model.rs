//! The intent model: multinomial logistic regression over sparse TF-IDF vectors, trained by
//! stochastic gradient descent. Written here because the work is a few dozen lines of
//! arithmetic over our own sparse vectors; the Rust ML crates want dense matrices (`ndarray`)
//! or a runtime, and bring far more than they would do here.

/// A sparse vector: `(column, value)` pairs sorted by column.
#[derive(Debug, Clone, Default)]
pub struct SparseVector {
    pub entries: Vec<(u32, f32)>,
}

/// Weights stay below this many floats (rows × classes); rarer features are dropped to fit.
const MAX_WEIGHTS: usize = 24_000_000;
/// Few passes at a high, decaying rate: on normalised TF-IDF inputs this fits the question
/// variants closely without the over-confidence of many passes (measured with `tandem eval`).
const EPOCHS: usize = 6;
const INITIAL_RATE: f32 = 4.0;
const FINAL_RATE: f32 = 0.02;

#[derive(Debug)]
pub struct LinearModel {
    classes: usize,
    /// The model row of each vocabulary column, or `u32::MAX` for columns left out.
    row_of: Vec<u32>,
    /// `rows × classes`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// How much of each probability is the model's rather than the uniform prior's: trained on
    /// `n` examples per class, the model speaks with the weight of `n` against the prior's
    /// [`PRIOR_EXAMPLES`]. With a handful of variants per article a linear model is confident
    /// about anything; with a hundred the prior vanishes.
    trust: f32,
}

/// The weight, in examples per class, of the uniform prior blended into probabilities.
const PRIOR_EXAMPLES: f32 = 2.0;

impl LinearModel {
    /// Trains on `examples` (vector, class). `document_frequency` (per vocabulary column) decides
    /// which rare features to leave out when the model would otherwise be too large.
    pub fn train(
        examples: &[(SparseVector, u32)],
        classes: usize,
        document_frequency: &[u32],
    ) -> LinearModel {
        let mut minimum_frequency = 1;
        let row_count =
            |minimum: u32| document_frequency.iter().filter(|&&df| df >= minimum).count();
        while row_count(minimum_frequency) * classes > MAX_WEIGHTS {
            minimum_frequency += 1;
        }
        let mut row_of = vec![u32::MAX; document_frequency.len()];
        let mut rows = 0u32;
        for (column, &df) in document_frequency.iter().enumerate() {
            if df >= minimum_frequency {
                row_of[column] = rows;
                rows += 1;
            }
        }
        let per_class = examples.len() as f32 / classes.max(1) as f32;
        let trust = per_class / (per_class + PRIOR_EXAMPLES);
        let mut model = LinearModel {
            classes,
            row_of,
            weights: vec![0.0; rows as usize * classes],
            bias: vec![0.0; classes],
            trust,
        };
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut random = 0x9e37_79b9_7f4a_7c15u64;
        let total_steps = (EPOCHS * examples.len()).max(1) as f32;
        let mut step = 0f32;
        let mut scores = vec![0f32; classes];

        for _ in 0..EPOCHS {
            // Fisher-Yates with xorshift: reproducible without a dependency.
            for index in (1..order.len()).rev() {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                order.swap(index, (random % (index as u64 + 1)) as usize);
            }
            for &example in &order {
                let (vector, label) = &examples[example];
                let rate = INITIAL_RATE + (FINAL_RATE - INITIAL_RATE) * step / total_steps;
                step += 1.0;
                model.softmax_into(vector, &mut scores);
                scores[*label as usize] -= 1.0;
                for &(column, value) in &vector.entries {
                    let row = model.row_of[column as usize];
                    if row == u32::MAX {
                        continue;
                    }
                    let start = row as usize * classes;
                    let weights = &mut model.weights[start..start + classes];
                    for (weight, gradient) in weights.iter_mut().zip(&scores) {
                        *weight -= rate * gradient * value;
                    }
                }
                for (bias, gradient) in model.bias.iter_mut().zip(&scores) {
                    *bias -= rate * gradient * 0.1;
                }
            }
        }
        model
    }

    /// Class probabilities for `vector`.
    pub fn probabilities(&self, vector: &SparseVector) -> Vec<f32> {
        let mut scores = vec![0f32; self.classes];
        self.softmax_into(vector, &mut scores);
        let uniform = (1.0 - self.trust) / self.classes as f32;
        for score in &mut scores {
            *score = self.trust * *score + uniform;
        }
        scores
    }

    fn softmax_into(&self, vector: &SparseVector, scores: &mut [f32]) {
        scores.copy_from_slice(&self.bias);
        for &(column, value) in &vector.entries {
            let Some(&row) = self.row_of.get(column as usize) else { continue };
            if row == u32::MAX {
                continue;
            }
            let start = row as usize * self.classes;
            for (score, weight) in scores.iter_mut().zip(&self.weights[start..start + self.classes])
            {
                *score += weight * value;
            }
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for score in scores.iter_mut() {
            *score = (*score - max).exp();
            sum += *score;
        }
        for score in scores.iter_mut() {
            *score /= sum;
        }
    }
}
