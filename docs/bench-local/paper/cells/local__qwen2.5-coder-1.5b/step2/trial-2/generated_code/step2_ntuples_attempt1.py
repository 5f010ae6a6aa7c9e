import os
import sys
import uproot
import awkward as ak

# Define the input and output paths
input_paths = [
    "data/GamGam/Data/data_A.GamGam.root",
    "data/GamGam/Data/data_B.GamGam.root",
    "data/GamGam/Data/data_C.GamGam.root",
    "data/GamGam/Data/data_D.GamGam.root",
    "data/GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345041.VBFH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345318.WpH125J_Wincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345319.ZH125J_Zincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_341081.ttH125_gamgam.GamGam.root"
]
output_paths = [
    "outputs/ntuples/data_A.npy",
    "outputs/ntuples/data_B.npy",
    "outputs/ntuples/data_C.npy",
    "outputs/ntuples/data_D.npy",
    "outputs/ntuples/mc_343981.ggH125_gamgam.npy",
    "outputs/ntuples/mc_345041.VBFH125_gamgam.npy",
    "outputs/ntuples/mc_345318.WpH125J_Wincl_gamgam.npy",
    "outputs/ntuples/mc_345319.ZH125J_Zincl_gamgam.npy",
    "outputs/ntuples/mc_341081.ttH125_gamgam.npy"
]

# Create the output directories if they do not exist
for path in output_paths:
    os.makedirs(path, exist_ok=True)

# Loop over each input file
for input_path, output_path in zip(input_paths, output_paths):
    try:
        # Open the ROOT file
        with uproot.open(input_path) as file:
            # Get the TTree
            tree = file["mini"]
            
            # Extract the branches
            photon_pt = tree["photon_pt"]
            photon_eta = tree["photon_eta"]
            photon_phi = tree["photon_phi"]
            photon2_pt = tree["photon2_pt"]
            photon2_eta = tree["photon2_eta"]
            photon2_phi = tree["photon2_phi"]
            lep1_pt = tree["lep_pt"]
            lep1_eta = tree["lep_eta"]
            lep1_phi = tree["lep_phi"]
            lep2_pt = tree["lep_pt"]
            lep2_eta = tree["lep_eta"]
            lep2_phi = tree["lep_phi"]
            jet1_pt = tree["jet_pt"]
            jet1_eta = tree["jet_eta"]
            jet1_phi = tree["jet_phi"]
            jet2_pt = tree["jet_pt"]
            jet2_eta = tree["jet_eta"]
            jet2_phi = tree["jet_phi"]
            jet3_pt = tree["jet_pt"]
            jet3_eta = tree["jet_eta"]
            jet3_phi = tree["jet_phi"]
            jet4_pt = tree["jet_pt"]
            jet4_eta = tree["jet_eta"]
            jet4_phi = tree["jet_phi"]
            jet5_pt = tree["jet_pt"]
            jet5_eta = tree["jet_eta"]
            jet5_phi = tree["jet_phi"]
            jet6_pt = tree["jet_pt"]
            jet6_eta = tree["jet_eta"]
            jet6_phi = tree["jet_phi"]
            met_et = tree["met_et"]
            met_phi = tree["met_phi"]
            mcWeight = tree["mcWeight"]
            scaleFactor_PHOTON = tree["scaleFactor_PHOTON"]
            scaleFactor_PhotonTRIGGER = tree["scaleFactor_PhotonTRIGGER"]
            scaleFactor_PILEUP = tree["scaleFactor_PILEUP"]
            XSection = tree["XSection"]
            SumWeights = tree["SumWeights"]
            photon1_isTightID = tree["photon_isTightID"]
            photon2_isTightID = tree["photon_isTightID"]
            photon1_ptcone30 = tree["photon_ptcone30"]
            photon2_ptcone30 = tree["photon_ptcone30"]
            photon1_etcone20 = tree["photon_etcone20"]
            photon2_etcone20 = tree["photon_etcone20"]
            trigP = tree["trigP"]
            photon_n = tree["photon_n"]
            
            # Convert the branches to numpy arrays
            photon1_pt = ak.to_numpy(photon1_pt)
            photon2_pt = ak.to_numpy(photon2_pt)
            lep1_pt = ak.to_numpy(lep1_pt)
            lep2_pt = ak.to_numpy(lep2_pt)
            jet1_pt = ak.to_numpy(jet1_pt)
            jet2_pt = ak.to_numpy(jet2_pt)
            jet3_pt = ak.to_numpy(jet3_pt)
            jet4_pt = ak.to_numpy(jet4_pt)
            jet5_pt = ak.to_numpy(jet5_pt)
            jet6_pt = ak.to_numpy(jet6_pt)
            met_et = ak.to_numpy(met_et)
            met_phi = ak.to_numpy(met_phi)
            mcWeight = ak.to_numpy(mcWeight)
            scaleFactor_PHOTON = ak.to_numpy(scaleFactor_PHOTON)
            scaleFactor_PhotonTRIGGER = ak.to_numpy(scaleFactor_PhotonTRIGGER)
            scaleFactor_PILEUP = ak.to_numpy(scaleFactor_PILEUP)
            XSection = ak.to_numpy(XSection)
            SumWeights = ak.to_numpy(SumWeights)
            photon1_isTightID = ak.to_numpy(photon1_isTightID)
            photon2_isTightID = ak.to_numpy(photon2_isTightID)
            photon1_ptcone30 = ak.to_numpy(photon1_ptcone30)
            photon2_ptcone30 = ak.to_numpy(photon2_ptcone30)
            photon1_etcone20 = ak.to_numpy(photon1_etcone20)
            photon2_etcone20 = ak.to_numpy(photon2_etcone20)
            trigP = ak.to_numpy(trigP)
            photon_n = ak.to_numpy(photon_n)
            
            # Save the numpy arrays to the output file
            np.save(output_path, photon1_pt)
            np.save(output_path, photon2_pt)
            np.save(output_path, lep1_pt)
            np.save(output_path, lep2_pt)
            np.save(output_path, jet1_pt)
            np.save(output_path, jet2_pt)
            np.save(output_path, jet3_pt)
            np.save(output_path, jet4_pt)
            np.save(output_path, jet5_pt)
            np.save(output_path, jet6_pt)
            np.save(output_path, met_et)
            np.save(output_path, met_phi)
            np.save(output_path, mcWeight)
            np.save(output_path, scaleFactor_PHOTON)
            np.save(output_path, scaleFactor_PhotonTRIGGER)
            np.save(output_path, scaleFactor_PILEUP)
            np.save(output_path, XSection)
            np.save(output_path, SumWeights)
            np.save(output_path, photon1_isTightID)
            np.save(output_path, photon2_isTightID)
            np.save(output_path, photon1_ptcone30)
            np.save(output_path, photon2_ptcone30)
            np.save(output_path, photon1_etcone20)
            np.save(output_path, photon2_etcone20)
            np.save(output_path, trigP)
            np.save(output_path, photon_n)
            
            # Print a progress message
            print(f"Processed {input_path} -> {output_path}")
    except Exception as e:
        print(f"Error processing {input_path}: {e}")
        sys.exit(1)
