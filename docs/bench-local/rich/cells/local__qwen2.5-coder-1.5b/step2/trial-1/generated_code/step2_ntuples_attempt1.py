import os
import sys
import numpy as np
import awkward as ak
from hepmini.tools import *

def read_root_file(file_path):
    with uproot.open(file_path) as file:
        mini_tree = file['mini']
        return mini_tree

def extract_branches(tree):
    branches = {
        'runNumber': tree['runNumber'].array(),
        'eventNumber': tree['eventNumber'].array(),
        'channelNumber': tree['channelNumber'].array(),
        'mcWeight': tree['mcWeight'].array(),
        'scaleFactor_PILEUP': tree['scaleFactor_PILEUP'].array(),
        'scaleFactor_ELE': tree['scaleFactor_ELE'].array(),
        'scaleFactor_MUON': tree['scaleFactor_MUON'].array(),
        'scaleFactor_PHOTON': tree['scaleFactor_PHOTON'].array(),
        'scaleFactor_TAU': tree['scaleFactor_TAU'].array(),
        'scaleFactor_BTAG': tree['scaleFactor_BTAG'].array(),
        'scaleFactor_LepTRIGGER': tree['scaleFactor_LepTRIGGER'].array(),
        'scaleFactor_PhotonTRIGGER': tree['scaleFactor_PhotonTRIGGER'].array(),
        'trigE': tree['trigE'].array(),
        'trigM': tree['trigM'].array(),
        'trigP': tree['trigP'].array(),
        'lep_n': tree['lep_n'].array(),
        'lep_truthMatched': tree['lep_truthMatched'].array(),
        'lep_trigMatched': tree['lep_trigMatched'].array(),
        'lep_pt': tree['lep_pt'].array(),
        'lep_eta': tree['lep_eta'].array(),
        'lep_phi': tree['lep_phi'].array(),
        'lep_E': tree['lep_E'].array(),
        'lep_z0': tree['lep_z0'].array(),
        'lep_charge': tree['lep_charge'].array(),
        'lep_type': tree['lep_type'].array(),
        'lep_isTightID': tree['lep_isTightID'].array(),
        'lep_ptcone30': tree['lep_ptcone30'].array(),
        'lep_etcone20': tree['lep_etcone20'].array(),
        'lep_trackd0pvunbiased': tree['lep_trackd0pvunbiased'].array(),
        'lep_tracksigd0pvunbiased': tree['lep_tracksigd0pvunbiased'].array(),
        'met_et': tree['met_et'].array(),
        'met_phi': tree['met_phi'].array(),
        'jet_n': tree['jet_n'].array(),
        'jet_pt': tree['jet_pt'].array(),
        'jet_eta': tree['jet_eta'].array(),
        'jet_phi': tree['jet_phi'].array(),
        'jet_E': tree['jet_E'].array(),
        'jet_jvt': tree['jet_jvt'].array(),
        'jet_trueflav': tree['jet_trueflav'].array(),
        'jet_truthMatched': tree['jet_truthMatched'].array(),
        'jet_MV2c10': tree['jet_MV2c10'].array(),
        'photon_n': tree['photon_n'].array(),
        'photon_truthMatched': tree['photon_truthMatched'].array(),
        'photon_trigMatched': tree['photon_trigMatched'].array(),
        'photon_pt': tree['photon_pt'].array(),
        'photon_eta': tree['photon_eta'].array(),
        'photon_phi': tree['photon_phi'].array(),
        'photon_E': tree['photon_E'].array(),
        'photon_isTightID': tree['photon_isTightID'].array(),
        'photon_ptcone30': tree['photon_ptcone30'].array(),
        'photon_etcone20': tree['photon_etcone20'].array(),
        'photon_convType': tree['photon_convType'].array(),
        'tau_n': tree['tau_n'].array(),
        'tau_pt': tree['tau_pt'].array(),
        'tau_eta': tree['tau_eta'].array(),
        'tau_phi': tree['tau_phi'].array(),
        'tau_E': tree['tau_E'].array(),
        'tau_isTightID': tree['tau_isTightID'].array(),
        'tau_truthMatched': tree['tau_truthMatched'].array(),
        'tau_trigMatched': tree['tau_trigMatched'].array(),
        'tau_nTracks': tree['tau_nTracks'].array(),
        'tau_BDTid': tree['tau_BDTid'].array(),
        'ditau_m': tree['ditau_m'].array(),
        'lep_pt_syst': tree['lep_pt_syst'].array(),
        'met_et_syst': tree['met_et_syst'].array(),
        'jet_pt_syst': tree['jet_pt_syst'].array(),
        'photon_pt_syst': tree['photon_pt_syst'].array(),
        'tau_pt_syst': tree['tau_pt_syst'].array(),
        'XSection': tree['XSection'].array(),
        'SumWeights': tree['SumWeights'].array(),
        'largeRjet_n': tree['largeRjet_n'].array(),
        'largeRjet_pt': tree['largeRjet_pt'].array(),
        'largeRjet_eta': tree['largeRjet_eta'].array(),
        'largeRjet_phi': tree['largeRjet_phi'].array(),
        'largeRjet_E': tree['largeRjet_E'].array(),
        'largeRjet_m': tree['largeRjet_m'].array(),
        'largeRjet_truthMatched': tree['largeRjet_truthMatched'].array(),
        'largeRjet_D2': tree['largeRjet_D2'].array(),
        'largeRjet_tau32': tree['largeRjet_tau32'].array(),
        'largeRjet_pt_syst': tree['largeRjet_pt_syst'].array(),
        'tau_charge': tree['tau_charge'].array(),
    }
    return branches

def main():
    input_files = sys.argv[1:]
    output_files = sys.argv[2:]

    for input_file, output_file in zip(input_files, output_files):
        if not os.path.exists(input_file):
            print(f"Error: Input file {input_file} does not exist.")
            sys.exit(1)

        tree = read_root_file(input_file)
        branches = extract_branches(tree)

        # Convert branches to numpy arrays
        for key, value in branches.items():
            if isinstance(value, ak.Array):
                branches[key] = value.to_numpy()

        # Save numpy arrays to output files
        for key, value in branches.items():
            np.save(output_file, value)

        print(f"Processed {input_file} and saved to {output_file}")

if __name__ == "__main__":
    main()
