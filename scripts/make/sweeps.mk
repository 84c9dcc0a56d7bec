# Sweeps: the machinery behind `make demo` and the paper's targets, and reports of finished runs.
# A sweep trains every MODELS x CONDITIONS x SETTINGS x SEEDS combination on DATA:
#   runs/NAME/<condition>--<model>--<setting>--s<seed>/summary.json   (one run each)
#   report/NAME/summary.md                                            (report of runs/NAME/*/)
# CONDITIONS: true, labels<p> (label corruption p, e.g. labels0.4), random-labels, shuffle,
#   random-pixels, gaussian. SETTINGS: '+'-joined tokens: plain, crop, aug (crop+flip), rrc
#   (Inception-style random resized crops + flip, for ImageNet), wd, dropout, nobn.
#   A corrupted dataset is made once per condition and seed: data/NAME/<cond>-s<seed>.npz (a shard
#   directory data/NAME/<cond>-s<seed> when DATA is one and DATA_EXT is empty).
# Stopping: by default a run stops at 100% training accuracy or after EPOCHS epochs (STOP_FLAGS).
#   STOP names a stopping rule instead, and the name becomes part of each run's folder,
#   runs/NAME/<condition>--<model>--<setting>--<STOP>--s<seed>/, so that runs trained under
#   different rules never share a target:
#     e<N>    a fixed budget: N epochs (--epochs N)
#     fit<N>  until 100% training accuracy, at most N epochs, evaluated every FIT_EVAL_EVERY
#             epochs (--until-train-acc 1.0 --epochs N --eval-every FIT_EVAL_EVERY)
# An interrupted run continues from its checkpoint; `make -j N` runs N trainings at once.

##@ Sweeps and reports

NAME        ?= sweep
DATA        ?= data/$(NAME).npz
CONDITIONS  ?= true
MODELS      ?= mlp-1x512
SETTINGS    ?= plain
STOP        ?=
STOP_FLAGS  ?= --until-train-acc 1.0 --epochs $(EPOCHS)
EPOCHS      ?= 100
FIT_EVAL_EVERY ?= 0.25
TRAIN_FLAGS ?=
# A separate test file (when DATA holds the training split only, as for ImageNet).
TEST_DATA   ?=
RUNS_DIR    := runs/$(NAME)

cond_true :=
cond_random-labels := --labels 1
cond_shuffle := --shuffle-pixels
cond_random-pixels := --random-pixels
cond_gaussian := --gaussian
cond_flags = $(if $(filter labels%,$1),--labels $(patsubst labels%,%,$1),$(if $(filter $1,true random-labels shuffle random-pixels gaussian),$(cond_$1),$(error unknown condition '$1' (true, labels<p>, random-labels, shuffle, random-pixels, gaussian))))
setting_plain :=
setting_crop := --augment crop
setting_aug := --augment crop,flip
setting_rrc := --augment rrc,flip
setting_wd = --weight-decay $(WD)
setting_dropout = --dropout $(DROPOUT)
setting_nobn := --no-batchnorm
setting_flags = $(foreach t,$(subst +, ,$1),$(if $(filter $t,plain crop aug rrc wd dropout nobn),$(setting_$t),$(error unknown setting token '$t' (plain, crop, aug, rrc, wd, dropout, nobn))))
# A whole number: nothing is left once its digits are removed.
non_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$1))))))))))
is_count = $(and $1,$(if $(call non_digits,$1),,yes))
stop_flags = $(if $(and $(filter e%,$1),$(call is_count,$(1:e%=%))),--epochs $(1:e%=%),$(if $(and $(filter fit%,$1),$(call is_count,$(1:fit%=%))),--until-train-acc 1.0 --epochs $(1:fit%=%) --eval-every $(FIT_EVAL_EVERY),$(error unknown STOP '$1' (e<N>: N epochs; fit<N>: until 100% training accuracy, at most N epochs))))
run_flags = $(if $(STOP),$(call stop_flags,$(STOP)),$(STOP_FLAGS))
run_dir = $(RUNS_DIR)/$1--$2--$3$(if $(STOP),--$(STOP))--s$4
# DATA_EXT: .npz for a dataset file, empty for a shard directory (corrupt writes a shard set).
DATA_EXT    ?= .npz
data_of = $(if $(filter true,$1),$(DATA),data/$(NAME)/$1-s$2$(DATA_EXT))

RUN_TARGETS := $(foreach c,$(CONDITIONS),$(foreach m,$(MODELS),$(foreach s,$(SETTINGS),$(foreach seed,$(SEEDS),$(call run_dir,$c,$m,$s,$(seed))/summary.json))))

define DATA_RULE
data/$(NAME)/$1-s$2$(DATA_EXT): $(DATA) | tools
	@mkdir -p $$(@D)
	$(BIN)/corrupt $(call cond_flags,$1) --seed $2 $$< -o $$@
endef
define RUN_RULE
$(call run_dir,$1,$2,$3,$4)/summary.json: $(call data_of,$1,$4) $(TEST_DATA) | tools
	@if [ -d $$(@D)/checkpoint ]; then echo "resuming $$(@D)" >&2; else rm -rf $$(@D); fi
	$(LAUNCH) $(BIN)/train --model $2 --data $$< $(if $(TEST_DATA),--test $(TEST_DATA)) --out $$(@D) --seed $4 --device $(DEVICE) \
	  $(call setting_flags,$3) $(run_flags) $(TRAIN_FLAGS) $$$$([ -d $$(@D)/checkpoint ] && echo --resume)
endef
$(foreach c,$(filter-out true,$(CONDITIONS)),$(foreach seed,$(SEEDS),$(eval $(call DATA_RULE,$c,$(seed)))))
$(foreach c,$(CONDITIONS),$(foreach m,$(MODELS),$(foreach s,$(SETTINGS),$(foreach seed,$(SEEDS),$(eval $(call RUN_RULE,$c,$m,$s,$(seed)))))))

.PHONY: sweep sweep-runs sweep-report print-runs report
sweep: sweep-runs ## train a sweep (NAME DATA CONDITIONS MODELS SETTINGS SEEDS STOP ...) and report it
	+@$(SUBMAKE) sweep-report NAME=$(NAME)
sweep-runs: $(RUN_TARGETS) ## train a sweep's runs only
sweep-report: | tools ## report every finished run of runs/NAME/ into report/NAME/
	$(BIN)/report $(sort $(dir $(wildcard $(RUNS_DIR)/*/summary.json))) --out report/$(NAME) $(REPORT_FLAGS)
print-runs: ## print the run targets of a sweep, one per line
	@printf '%s\n' $(RUN_TARGETS)

REPORT_DIR ?= report
# Run folders directly under runs/ (sweeps keep theirs in runs/NAME/: make sweep-report NAME=...).
RUN_DIRS = $(dir $(wildcard runs/*/summary.json))

report: | tools ## report every finished run directly under runs/ into report/, with the paper's numbers
	$(BIN)/report $(RUN_DIRS) --out $(REPORT_DIR) --paper
